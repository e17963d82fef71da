//! `envlock diff`: what changed between two lockfiles, per platform, for pull requests.
//!
//! Packages are matched by platform, manager and name. A version change is an upgrade or a
//! downgrade by the manager's own version order (conda's, or PEP 440 for pip); the same version
//! with another build or URL is a rebuild. The same file (URL) with another sha256 (or md5) is
//! not a rebuild but a republished or tampered artifact: [`Kind::ChangedHash`], reported loudly,
//! and what `resolve` refuses without `--allow-changed-hashes` ([`changed_hashes`]).

use std::{cmp::Ordering, collections::BTreeMap, str::FromStr};

use rattler_conda_lock::{LockFile, Manager, Package};

/// How a package changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Locked in the new file only.
    Added,
    /// Locked in the old file only.
    Removed,
    /// A newer version.
    Upgraded,
    /// An older version.
    Downgraded,
    /// The same version with another build or URL.
    Rebuilt,
    /// The same file (URL) with another sha256 or md5: republished or tampered with.
    #[serde(rename = "changed-hash")]
    ChangedHash,
}

/// A file locked before and now under the same URL, with another hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashChange {
    /// The platform.
    pub platform: String,
    /// `conda` or `pip`.
    pub manager: String,
    /// The package name.
    pub name: String,
    /// The file's URL (as locked: without credentials).
    pub url: String,
    /// The old hash, as `sha256:<hex>` or `md5:<hex>`.
    pub old: String,
    /// The new hash, in the same algorithm.
    pub new: String,
}

/// The URL without a fragment (pip URLs may carry `#sha256=…`), so that two locks of the same
/// file compare equal whatever the fragment says.
fn file_key(url: &str) -> &str {
    url.split_once('#').map_or(url, |(file, _)| file)
}

/// The first hash both records have that differs: sha256 when both have one, else md5.
fn hash_difference(
    old: &rattler_conda_lock::Hashes,
    new: &rattler_conda_lock::Hashes,
) -> Option<(String, String)> {
    let differs = |a: &Option<String>, b: &Option<String>, algorithm: &str| match (a, b) {
        (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => Some(Some((
            format!("{algorithm}:{a}"),
            format!("{algorithm}:{b}"),
        ))),
        (Some(_), Some(_)) => Some(None),
        _ => None,
    };
    match differs(&old.sha256, &new.sha256, "sha256") {
        Some(result) => result,
        None => differs(&old.md5, &new.md5, "md5").flatten(),
    }
}

/// Files `new` locks under a URL `old` locked too (same platform and manager) whose hash
/// differs: the same filename with other content, which a channel or index never does for a
/// real release.
pub fn changed_hashes(old: &LockFile, new: &LockFile) -> Vec<HashChange> {
    let old_by: BTreeMap<_, &Package> = old
        .package
        .iter()
        .map(|p| ((p.platform.as_str(), p.manager, file_key(&p.url)), p))
        .collect();
    let mut changes: Vec<HashChange> = new
        .package
        .iter()
        .filter_map(|n| {
            let o = old_by.get(&(n.platform.as_str(), n.manager, file_key(&n.url)))?;
            let (old_hash, new_hash) = hash_difference(&o.hash, &n.hash)?;
            Some(HashChange {
                platform: n.platform.clone(),
                manager: n.manager.to_string(),
                name: n.name.clone(),
                url: file_key(&n.url).to_string(),
                old: old_hash,
                new: new_hash,
            })
        })
        .collect();
    changes.sort_by(|a, b| (&a.platform, &a.name, &a.url).cmp(&(&b.platform, &b.name, &b.url)));
    changes
}

/// One package's change, on one platform.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Change {
    /// The platform.
    pub platform: String,
    /// `conda`, `pip`, or `pip build requirement` (an sdist's build set).
    pub manager: String,
    /// The package name.
    pub name: String,
    /// How it changed.
    pub kind: Kind,
    /// The old version (and build), if it was locked before.
    pub old: Option<String>,
    /// The new version (and build), if it is locked now.
    pub new: Option<String>,
    /// Why envlock locks it, when no input asks for it: `added by envlock for the image's
    /// init` (tini, on a platform the lock's `envlock.init` names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The platforms `lock` records tini as added to for the image's init (none when its envlock
/// metadata does not read).
fn init_platforms(lock: &LockFile) -> Vec<String> {
    super::EnvlockMeta::read(lock)
        .ok()
        .and_then(|m| m.init)
        .map(|i| i.added)
        .unwrap_or_default()
}

fn label(p: &Package) -> String {
    match &p.build {
        Some(b) => format!("{} ({b})", p.version),
        None => p.version.clone(),
    }
}

fn order(manager: Manager, old: &str, new: &str) -> Ordering {
    match manager {
        Manager::Conda => match (
            rattler_conda_types::Version::from_str(old),
            rattler_conda_types::Version::from_str(new),
        ) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            _ => old.cmp(new),
        },
        Manager::Pip => match (
            pep440_rs::Version::from_str(old),
            pep440_rs::Version::from_str(new),
        ) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            _ => old.cmp(new),
        },
    }
}

/// The changes from `old` to `new`, sorted by platform, then kind, then name.
pub fn diff(old: &LockFile, new: &LockFile) -> Vec<Change> {
    // Build requirements (the sdists' build set) are a manager of their own here: a package
    // may be locked both for the env and, at another version, for building.
    let key = |p: &Package| {
        let manager = if super::is_build_requirement(p) {
            format!("{} build requirement", p.manager)
        } else {
            p.manager.to_string()
        };
        (p.platform.clone(), manager, p.name.clone())
    };
    let old_by: BTreeMap<_, &Package> = old.package.iter().map(|p| (key(p), p)).collect();
    let new_by: BTreeMap<_, &Package> = new.package.iter().map(|p| (key(p), p)).collect();
    let mut changes = Vec::new();
    for ((platform, manager, name), o) in &old_by {
        let change = |kind, new: Option<String>| Change {
            platform: platform.clone(),
            manager: manager.clone(),
            name: name.clone(),
            kind,
            old: Some(label(o)),
            new,
            note: None,
        };
        match new_by.get(&(platform.clone(), manager.clone(), name.clone())) {
            None => changes.push(change(Kind::Removed, None)),
            Some(n) => {
                let kind = match order(o.manager, &o.version, &n.version) {
                    Ordering::Less => Kind::Upgraded,
                    Ordering::Greater => Kind::Downgraded,
                    Ordering::Equal
                        if file_key(&o.url) == file_key(&n.url)
                            && hash_difference(&o.hash, &n.hash).is_some() =>
                    {
                        Kind::ChangedHash
                    }
                    Ordering::Equal if o.url != n.url || o.hash != n.hash || o.build != n.build => {
                        Kind::Rebuilt
                    }
                    Ordering::Equal => continue,
                };
                changes.push(change(kind, Some(label(n))));
            }
        }
    }
    for ((platform, manager, name), n) in &new_by {
        if !old_by.contains_key(&(platform.clone(), manager.clone(), name.clone())) {
            changes.push(Change {
                platform: platform.clone(),
                manager: manager.clone(),
                name: name.clone(),
                kind: Kind::Added,
                old: None,
                new: Some(label(n)),
                note: None,
            });
        }
    }
    // The init envlock added: said of the new lock's tini, or of a removed one the old lock had
    // added.
    let (old_init, new_init) = (init_platforms(old), init_platforms(new));
    for c in &mut changes {
        let added = if c.kind == Kind::Removed {
            &old_init
        } else {
            &new_init
        };
        if c.manager == "conda"
            && c.name == super::meta::INIT_PACKAGE
            && added.contains(&c.platform)
        {
            c.note = Some("added by envlock for the image's init".to_string());
        }
    }
    changes.sort_by(|a, b| (&a.platform, a.kind, &a.name).cmp(&(&b.platform, b.kind, &b.name)));
    changes
}

/// The changes as text a pull request reads well: one section per platform.
pub fn render_text(changes: &[Change], old: &str, new: &str) -> String {
    if changes.is_empty() {
        return format!("No changes between {old} and {new}.\n");
    }
    let mut out = format!("Changes from {old} to {new}:\n");
    let mut platform = "";
    for c in changes {
        if c.platform != platform {
            platform = &c.platform;
            out.push_str(&format!("\n{platform}\n"));
        }
        let (sign, text) = match c.kind {
            Kind::ChangedHash => (
                "!",
                format!(
                    "{} {}: same file, different sha256 — verify the source",
                    c.name,
                    c.new.as_deref().unwrap_or_default()
                ),
            ),
            Kind::Added => (
                "+",
                format!("{} {}", c.name, c.new.as_deref().unwrap_or_default()),
            ),
            Kind::Removed => (
                "-",
                format!("{} {}", c.name, c.old.as_deref().unwrap_or_default()),
            ),
            Kind::Upgraded | Kind::Downgraded | Kind::Rebuilt => (
                match c.kind {
                    Kind::Upgraded => "↑",
                    Kind::Downgraded => "↓",
                    _ => "~",
                },
                format!(
                    "{} {} → {}",
                    c.name,
                    c.old.as_deref().unwrap_or_default(),
                    c.new.as_deref().unwrap_or_default()
                ),
            ),
        };
        match &c.note {
            Some(note) => out.push_str(&format!("  {sign} {text} [{}; {note}]\n", c.manager)),
            None => out.push_str(&format!("  {sign} {text} [{}]\n", c.manager)),
        }
    }
    let count = |k: Kind| changes.iter().filter(|c| c.kind == k).count();
    out.push_str(&format!(
        "\n{} added, {} removed, {} upgraded, {} downgraded, {} rebuilt\n",
        count(Kind::Added),
        count(Kind::Removed),
        count(Kind::Upgraded),
        count(Kind::Downgraded),
        count(Kind::Rebuilt)
    ));
    let changed = count(Kind::ChangedHash);
    if changed > 0 {
        out.push_str(&format!(
            "{changed} with the same file but a different sha256: republished or tampered with; \
             verify them with the channel or index before merging\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rattler_conda_lock::Hashes;

    fn package(name: &str, version: &str, manager: Manager, sha: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            manager,
            platform: "linux-64".into(),
            dependencies: Default::default(),
            url: format!("https://x/{name}-{version}"),
            hash: Hashes {
                md5: None,
                sha256: Some(sha.repeat(64)),
            },
            source: None,
            build: None,
            category: "main".into(),
            optional: false,
        }
    }

    fn lock(packages: Vec<Package>) -> LockFile {
        LockFile {
            package: packages,
            ..Default::default()
        }
    }

    #[test]
    fn classifies_every_kind_of_change() {
        let old = lock(vec![
            package("numpy", "1.26.4", Manager::Conda, "a"),
            package("flask", "3.0.3", Manager::Pip, "a"),
            package("six", "1.16.0", Manager::Pip, "a"),
            package("openssl", "3.3.0", Manager::Conda, "a"),
            package("zlib", "1.3", Manager::Conda, "a"),
            package("libzip", "1.0", Manager::Conda, "a"),
        ]);
        let mut libzip = package("libzip", "1.0", Manager::Conda, "c");
        libzip.url.push_str("-1");
        let new = lock(vec![
            package("numpy", "1.26.10", Manager::Conda, "a"),
            package("flask", "3.0.0", Manager::Pip, "a"),
            package("requests", "2.32.3", Manager::Pip, "a"),
            package("openssl", "3.3.0", Manager::Conda, "b"),
            package("zlib", "1.3", Manager::Conda, "a"),
            libzip,
        ]);
        let changes = diff(&old, &new);
        let summary: Vec<String> = changes
            .iter()
            .map(|c| format!("{:?} {}", c.kind, c.name))
            .collect();
        assert_eq!(
            summary,
            [
                "Added requests",
                "Removed six",
                "Upgraded numpy",
                "Downgraded flask",
                "Rebuilt libzip",
                "ChangedHash openssl"
            ]
        );
        let text = render_text(&changes, "old", "new");
        assert!(text.contains("↑ numpy 1.26.4 → 1.26.10 [conda]"), "{text}");
        assert!(
            text.contains("1 added, 1 removed, 1 upgraded, 1 downgraded, 1 rebuilt"),
            "{text}"
        );
        assert!(
            text.contains("! openssl 3.3.0: same file, different sha256 — verify the source"),
            "{text}"
        );
        assert!(
            text.contains("1 with the same file but a different sha256"),
            "{text}"
        );
        let changed = changed_hashes(&old, &new);
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert_eq!(changed[0].name, "openssl");
        assert_eq!(changed[0].old, format!("sha256:{}", "a".repeat(64)));
        assert_eq!(changed[0].new, format!("sha256:{}", "b".repeat(64)));
        assert!(render_text(&[], "a", "b").starts_with("No changes"));
    }

    #[test]
    fn build_requirements_are_their_own_entries() {
        let build = |version: &str| Package {
            category: "build".into(),
            optional: true,
            ..package("setuptools", version, Manager::Pip, "c")
        };
        let old = lock(vec![
            package("setuptools", "69.0", Manager::Pip, "a"),
            build("70.0"),
        ]);
        let new = lock(vec![
            package("setuptools", "69.0", Manager::Pip, "a"),
            build("75.0"),
        ]);
        let changes = diff(&old, &new);
        assert_eq!(changes.len(), 1, "{changes:?}");
        let text = render_text(&changes, "old", "new");
        assert!(
            text.contains("↑ setuptools 70.0 → 75.0 [pip build requirement]"),
            "{text}"
        );
    }
}
