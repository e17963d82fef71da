//! Version sets as PEP 440 matches them, for the resolver: what a requirement allows, and
//! whether a set pins one version.
//!
//! pep440_rs converts `==2.5.1` into the one version `2.5.1`, but PEP 440 ignores a
//! candidate's local label (`+cpu`) unless the specifier has one, so pip and uv also take
//! `2.5.1+cpu` for `==2.5.1` (PyTorch's indexes publish only such local builds). Here `==V`
//! is `V` and every `V+local`, `!=V` its complement, and `<=V` reaches above them.

use std::ops::Bound;

use pep440_rs::{Operator, Version, VersionSpecifier};
use pep508_rs::{Requirement, VersionOrUrl};
use pubgrub::Ranges;

/// The version set a requirement allows (any version for URL requirements).
pub fn of(requirement: &Requirement) -> Ranges<Version> {
    match &requirement.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(s)) => s
            .iter()
            .fold(Ranges::full(), |range, s| range.intersection(&specifier(s))),
        _ => Ranges::full(),
    }
}

/// The versions one specifier allows.
pub fn specifier(specifier: &VersionSpecifier) -> Ranges<Version> {
    let version = specifier.version();
    if !version.local().is_empty() {
        return Ranges::from(specifier.clone());
    }
    match specifier.operator() {
        Operator::Equal => with_locals(version),
        Operator::NotEqual => with_locals(version).complement(),
        Operator::LessThanEqual => Ranges::strictly_lower_than(above_locals(version)),
        _ => Ranges::from(specifier.clone()),
    }
}

/// `version` and every `version+local`.
fn with_locals(version: &Version) -> Ranges<Version> {
    Ranges::from_range_bounds(version.clone()..above_locals(version))
}

/// The first version above every `version+local`: the next dev release, the next post
/// release's dev0, or `.post0.dev0`.
fn above_locals(version: &Version) -> Version {
    match (version.post(), version.dev()) {
        (_, Some(dev)) => version.clone().with_dev(Some(dev.saturating_add(1))),
        (Some(post), None) => version
            .clone()
            .with_post(Some(post.saturating_add(1)))
            .with_dev(Some(0)),
        (None, None) => version.clone().with_post(Some(0)).with_dev(Some(0)),
    }
}

/// The version `set` pins, as `==V` does (`V` alone, or with its local builds): a yanked
/// file is taken only when pinned so (PEP 592), and the pin reads `==V` in messages.
pub fn pinned(set: &Ranges<Version>) -> Option<&Version> {
    if let Some(v) = set.as_singleton() {
        return Some(v);
    }
    let (Bound::Included(low), Bound::Excluded(high)) = set.bounding_range()? else {
        return None;
    };
    (set.iter().count() == 1 && *high == above_locals(low)).then_some(low)
}

/// `set` as PEP 440 specifiers, for messages: `==1.0`, `>=1.0,<2.0`, `!=1.0`, `<1.0 or >=2.0`, and
/// `<=2.0`, not the `<2.0.post0.dev0` that holds 2.0's local builds; empty for any version,
/// `(no version)` for none.
pub fn specifiers(set: &Ranges<Version>) -> String {
    if set == &Ranges::full() {
        return String::new();
    }
    if let Some(v) = pinned(set) {
        return format!("=={v}");
    }
    if set.is_empty() {
        return "(no version)".to_string();
    }
    // A segment that ends just below `v` and the next that starts just above it leave out
    // `v` alone: one range with `!=v` (`>=0.2,!=1.7.2,!=2.0`), not `>=0.2,<1.7.2 or >1.7.2,<2.0
    // or >2.0`, which a resolve that left out one version at a time would print.
    let mut groups: Vec<(Bound<&Version>, Bound<&Version>, Vec<&Version>)> = Vec::new();
    for (low, high) in set.iter() {
        if let Some(last) = groups.last_mut()
            && let (Bound::Excluded(end), Bound::Excluded(start)) = (last.1, low.as_ref())
            && end == start
        {
            last.1 = high.as_ref();
            last.2.push(end);
            continue;
        }
        groups.push((low.as_ref(), high.as_ref(), Vec::new()));
    }
    let segments: Vec<String> = groups
        .into_iter()
        .map(|(low, high, holes)| {
            let holes: String = holes.iter().map(|v| format!(",!={v}")).collect();
            match bounds(low, high) {
                None if holes.is_empty() => "*".to_string(),
                None => holes[1..].to_string(),
                Some(bounds) => format!("{bounds}{holes}"),
            }
        })
        .collect();
    segments.join(" or ")
}

/// One segment of a version set as specifiers (`==1.0`, `>=1.0,<2.0`, `<=2.0`); `None` for
/// no bound at all.
fn bounds(low: Bound<&Version>, high: Bound<&Version>) -> Option<String> {
    if let (Bound::Included(a), Bound::Excluded(b)) = (low, high)
        && *b == above_locals(a)
    {
        return Some(format!("=={a}"));
    }
    if let (Bound::Included(a), Bound::Included(b)) = (low, high)
        && a == b
    {
        return Some(format!("=={a}"));
    }
    let low = match low {
        Bound::Unbounded => None,
        Bound::Included(v) => Some(match below_locals(v) {
            Some(v) => format!(">{v}"),
            None => format!(">={v}"),
        }),
        Bound::Excluded(v) => Some(format!(">{v}")),
    };
    let high = match high {
        Bound::Unbounded => None,
        Bound::Included(v) => Some(format!("<={v}")),
        Bound::Excluded(v) => Some(match below_locals(v) {
            Some(v) => format!("<={v}"),
            None => format!("<{v}"),
        }),
    };
    match (low, high) {
        (Some(low), Some(high)) => Some(format!("{low},{high}")),
        (Some(bound), None) | (None, Some(bound)) => Some(bound),
        (None, None) => None,
    }
}

/// The release whose local builds end just below `bound` (`2.0` for `2.0.post0.dev0`).
fn below_locals(bound: &Version) -> Option<Version> {
    (bound.post() == Some(0) && bound.dev() == Some(0) && bound.local().is_empty())
        .then(|| bound.clone().with_post(None).with_dev(None))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn range(requirement: &str) -> Ranges<Version> {
        of(&Requirement::from_str(requirement).unwrap())
    }

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    #[test]
    fn a_pin_without_a_local_label_takes_the_local_builds() {
        let pin = range("torch==2.5.1");
        for allowed in ["2.5.1", "2.5.1+cpu", "2.5.1+cu118.x"] {
            assert!(pin.contains(&v(allowed)), "{allowed}");
        }
        for refused in [
            "2.5.1.post0",
            "2.5.1.post0.dev0",
            "2.5.2",
            "2.5.1rc1",
            "2.5.0+cpu",
        ] {
            assert!(!pin.contains(&v(refused)), "{refused}");
        }
        assert_eq!(pinned(&pin), Some(&v("2.5.1")));
        let local = range("torch==2.5.1+cpu");
        assert!(local.contains(&v("2.5.1+cpu")) && !local.contains(&v("2.5.1+cu118")));
        assert!(!local.contains(&v("2.5.1")));
        assert_eq!(pinned(&local), Some(&v("2.5.1+cpu")));
    }

    #[test]
    fn not_equal_and_at_most_ignore_the_local_label_too() {
        let not = range("torch!=2.5.1");
        assert!(!not.contains(&v("2.5.1+cpu")) && not.contains(&v("2.5.1.post1")));
        assert!(range("torch<=2.5.1").contains(&v("2.5.1+cpu")));
        assert!(!range("torch<=2.5.1").contains(&v("2.5.1.post1")));
        assert!(!range("torch<2.5.1").contains(&v("2.5.1+cpu")));
        assert!(!range("torch>2.5.1").contains(&v("2.5.1+cpu")));
        assert!(range("torch>=2.5.1").contains(&v("2.5.1+cpu")));
    }

    #[test]
    fn messages_read_the_specifiers_as_written() {
        for (written, read) in [
            ("x", ""),
            ("x==2.0", "==2.0"),
            ("x<=2.0", "<=2.0"),
            ("x>=1.0,<=2.0", ">=1.0,<=2.0"),
            ("x!=2.0", "<2.0 or >2.0"),
            ("x>=1.0,<2.0", ">=1.0,<2.0"),
            ("x==2.0+cpu", "==2.0+cpu"),
        ] {
            assert_eq!(specifiers(&range(written)), read, "{written}");
        }
        assert_eq!(
            specifiers(&range("x==1.0").union(&range("x==2.0"))),
            "==1.0 or ==2.0"
        );
        assert_eq!(specifiers(&range("x>3,<2")), "(no version)");
    }

    #[test]
    fn post_dev_and_pre_releases_keep_their_local_builds_only() {
        let post = range("x==1.0.post2");
        assert!(post.contains(&v("1.0.post2+a")) && !post.contains(&v("1.0.post3.dev0")));
        let dev = range("x==1.0.dev3");
        assert!(dev.contains(&v("1.0.dev3+a")) && !dev.contains(&v("1.0.dev4")));
        let pre = range("x==1.0a1");
        assert!(pre.contains(&v("1.0a1+a")) && !pre.contains(&v("1.0a1.post0")));
        assert!(!pre.contains(&v("1.0a2")));
        for pin in ["x==1.0.post2", "x==1.0.dev3", "x==1.0a1"] {
            assert!(pinned(&range(pin)).is_some(), "{pin}");
        }
        assert_eq!(pinned(&range("x>=1.0,<1.1")), None);
        assert_eq!(pinned(&range("x>=1.0")), None);
    }
}
