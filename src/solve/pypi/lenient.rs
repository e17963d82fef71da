//! Published metadata read as uv reads it: `Requires-Python` and `Requires-Dist` values with
//! the mistakes common on PyPI repaired, instead of the version being unusable.
//!
//! Old releases of popular projects carry specifiers that PEP 440 rejects but that setuptools
//! once wrote: `>=3.6,` (celery 5.2, openpyxl 3.0), `>=3.5.*` (pylint 2.6), `>=2.7, !=3.0*`,
//! `>=7.2.0<8.0.0`, `>= '2.7'`. Strict parsing made such a pinned version "invalid metadata"
//! and its requirements file unlockable. pip ignores a `Requires-Python` it cannot parse; uv
//! repairs it, which keeps its meaning (a repaired `>=3.6,` still keeps Python 3.5 out). Each
//! repair below is tried in turn until the text parses; a text no repair makes valid keeps its
//! original error. Only published data goes through here: a user's own requirements are still
//! parsed strictly, so a typo in them is reported where it is.
//!
//! Written here, not taken from a crate: pep440_rs and pep508_rs parse strictly, and uv's
//! lenient parsing lives in its unpublished crates. The repairs are the kinds uv makes, so that
//! both tools read the same metadata the same way.

use std::{borrow::Cow, str::FromStr, sync::LazyLock};

use pep440_rs::VersionSpecifiers;
use pep508_rs::{Pep508Error, Requirement};
use regex::Regex;

/// One repair: what it changes in a specifier text (the part of a requirement before its
/// marker).
type Repair = fn(&str) -> Cow<'_, str>;

/// `>=7.2.0<8.0.0`: a comma is missing between two clauses.
static GLUED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"([0-9])([<>=!~])").unwrap());
/// `!=~5.0`: meant as `!=5.0.*`.
static NOT_TILDE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"!=\s*~\s*([0-9]+(?:\.[0-9]+)*)").unwrap());
/// `>=1.9.*`, `<3.4.*`: a wildcard is only valid after `==` and `!=`.
static ORDERED_STAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(<=|>=|<|>)(\s*[0-9]+(?:\.[0-9]+)*)\.\*").unwrap());
/// `!=3.0*`: the dot before the wildcard is missing.
static STAR_NO_DOT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"([0-9]+\.[0-9]+)\*").unwrap());
/// `>=3.6,` and `>=3.6, `: a clause left empty at the end.
static TRAILING_COMMA: LazyLock<Regex> = LazyLock::new(|| Regex::new(r",\s*$").unwrap());
/// `>dev`: no version at all, read as the lowest.
static BARE_DEV: LazyLock<Regex> = LazyLock::new(|| Regex::new(r">\s*dev").unwrap());
/// `>=9.0.0a1.0`: a release segment after a pre/post/dev number.
static SUFFIX_ZERO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([0-9]+(?:\.[0-9]+)*(?:a|b|rc|post|dev)[0-9]+)\.0\b").unwrap());

/// The repairs, in the order they are tried (each on the text the ones before left).
const REPAIRS: &[Repair] = &[
    |t| GLUED.replace_all(t, "$1,$2"),
    |t| NOT_TILDE.replace_all(t, "!=$1.*"),
    |t| ORDERED_STAR.replace_all(t, "$1$2"),
    |t| STAR_NO_DOT.replace_all(t, "$1.*"),
    |t| TRAILING_COMMA.replace_all(t, ""),
    |t| BARE_DEV.replace_all(t, ">0.0.0dev"),
    |t| SUFFIX_ZERO.replace_all(t, "$1"),
    // `>= '2.7'`, `>=3.6'`: quotes around or after a version.
    |t| match t.contains(['\'', '"']) {
        true => Cow::Owned(t.replace(['\'', '"'], "")),
        false => Cow::Borrowed(t),
    },
];

/// `text` parsed with `parse`, or else the first text the repairs make that parses; the
/// original error when none does. `marker_at` splits off a part (a requirement's marker) the
/// repairs must not touch.
fn repaired<T, E>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, E>,
    marker_at: Option<usize>,
) -> Result<T, E> {
    let error = match parse(text) {
        Ok(parsed) => return Ok(parsed),
        Err(e) => e,
    };
    let (head, marker) = text.split_at(marker_at.unwrap_or(text.len()));
    let mut head = head.to_string();
    for repair in REPAIRS {
        let changed = repair(&head);
        if changed == head {
            continue;
        }
        head = changed.into_owned();
        if let Ok(parsed) = parse(&format!("{head}{marker}")) {
            return Ok(parsed);
        }
    }
    Err(error)
}

/// A published `Requires-Python` (a METADATA header or an index's `requires-python`).
pub fn requires_python(
    text: &str,
) -> Result<VersionSpecifiers, pep440_rs::VersionSpecifiersParseError> {
    repaired(text, VersionSpecifiers::from_str, None)
}

/// A published `Requires-Dist` line. The marker (after the first `;`) is left as written.
pub fn requires_dist(text: &str) -> Result<Requirement, Pep508Error> {
    repaired(text, crate::util::pep508::parse, text.find(';'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that `text` reads as the valid `meant`.
    fn reads_as(text: &str, meant: &str) {
        assert_eq!(
            requires_python(text).unwrap(),
            VersionSpecifiers::from_str(meant).unwrap(),
            "{text}"
        );
    }

    #[test]
    fn published_specifier_mistakes_read_as_uv_reads_them() {
        // Each from a real release's metadata or index entry.
        reads_as(">=3.6,", ">=3.6");
        reads_as(">=3.7, ", ">=3.7");
        reads_as(">=3.5.*", ">=3.5");
        reads_as(
            ">=2.7,!=3.0.*,!=3.1.*,<3.4.*",
            ">=2.7, !=3.0.*, !=3.1.*, <3.4",
        );
        reads_as(">=2.7,!=3.0*,!=3.1*", ">=2.7, !=3.0.*, !=3.1.*");
        reads_as(">=7.2.0<8.0.0", ">=7.2.0, <8.0.0");
        reads_as("!=~5.0,>=4.12", "!=5.0.*, >=4.12");
        reads_as(">= '2.7'", ">=2.7");
        reads_as(">=3.6'", ">=3.6");
        reads_as(">=9.0.0a1.0", ">=9.0.0a1");
        reads_as(">dev", ">0.0.0.dev0");
        // Several mistakes at once.
        reads_as(
            ">=2.7, !=3.0.*, !=3.1.*', !=3.2.*,",
            ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*",
        );
        // Valid text is not touched, and what no repair fixes keeps its own error.
        reads_as("~=3.8", "~=3.8");
        let strict = VersionSpecifiers::from_str(">=three")
            .unwrap_err()
            .to_string();
        assert_eq!(requires_python(">=three").unwrap_err().to_string(), strict);
    }

    #[test]
    fn requirements_are_repaired_before_their_marker_only() {
        let reads_as = |text: &str, meant: &str| {
            assert_eq!(
                requires_dist(text).unwrap(),
                Requirement::from_str(meant).unwrap(),
                "{text}"
            );
        };
        reads_as("botocore>=1.3.0,<1.4.0',", "botocore>=1.3.0,<1.4.0");
        reads_as(
            "elasticsearch-dsl (>=7.2.0<8.0.0)",
            "elasticsearch-dsl>=7.2.0,<8.0.0",
        );
        // The marker's quotes are its own.
        reads_as(
            "numpy \">=1.19\"; python_version >= \"3.7\"",
            "numpy>=1.19; python_version >= '3.7'",
        );
        assert!(requires_dist("not a requirement at all (").is_err());
    }
}
