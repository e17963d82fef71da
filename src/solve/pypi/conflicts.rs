//! Which package to backtrack on when two keep conflicting, as uv decides it
//! (astral-sh/uv#9843, "Change backtracking when packages conflict too much").
//!
//! pubgrub keeps a decision and walks down the versions of the package that conflicts with
//! it: with `fsspec` 2026.4.0 decided, every `datasets` from 4.8.5 down is rejected for its
//! `fsspec<=2026.2.0`, until `datasets` 1.1.1 from 2020, which has no bound, is locked. uv
//! counts each rejection against the package whose version was rejected (the *affected*) and
//! the decided package it conflicted with (the *culprit*). Once either reaches
//! [`THRESHOLD`], the affected package is decided earlier than the rest and the culprit later,
//! and the solve goes back to before the culprit's decision: `datasets` 4.8.5 is locked with
//! `fsspec` 2026.2.0, as uv locks it.
//!
//! pubgrub 0.4 cannot backtrack on request (uv's fork can), so here the solve starts again with
//! the new order; what was fetched stays cached, and each package moves at most once, so at
//! most [`MAX_RESTARTS`] restarts happen.

use std::collections::{HashMap, HashSet};

use pep440_rs::Version;
use pubgrub::Ranges;

use super::graph::Pkg;

/// Rejections after which a package is moved, as uv's.
pub const THRESHOLD: u32 = 5;

/// Restarts at most per resolution.
pub const MAX_RESTARTS: u32 = 16;

/// Where a package stands in the order of decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Moved {
    /// Decided after every package that was not moved.
    Late,
    /// Not moved.
    No,
    /// Decided before every package that was not moved (after pins and conda's).
    Early,
}

/// The conflict counts of one solve, and the moves that outlive it.
#[derive(Debug, Default)]
pub struct Tracker {
    /// The version last chosen for each package in this solve.
    decided: HashMap<Pkg, Version>,
    affected: HashMap<Pkg, u32>,
    culprit: HashMap<Pkg, u32>,
    early: HashSet<Pkg>,
    late: HashSet<Pkg>,
    restarts: u32,
    /// A move asked for a restart that has not happened yet.
    pending: bool,
}

impl Tracker {
    /// How `package` is ordered.
    pub fn moved(&self, package: &Pkg) -> Moved {
        if self.early.contains(package) {
            Moved::Early
        } else if self.late.contains(package) {
            Moved::Late
        } else {
            Moved::No
        }
    }

    /// pubgrub is about to decide `version` of `package`.
    pub fn chose(&mut self, package: &Pkg, version: &Version) {
        self.decided.insert(package.clone(), version.clone());
    }

    /// `package` at the version chosen last has `dependencies`: each that excludes the
    /// version chosen for it counts. True when that moved a package and the solve should
    /// start again (never more than [`MAX_RESTARTS`] times); `movable` says which packages
    /// may be moved at all (not the root, conda's or pins).
    pub fn dependencies(
        &mut self,
        package: &Pkg,
        dependencies: &[(Pkg, Ranges<Version>)],
        movable: impl Fn(&Pkg) -> bool,
    ) -> bool {
        let mut moved = false;
        for (dependency, range) in dependencies {
            let Some(decided) = self.decided.get(dependency) else {
                continue;
            };
            if range.contains(decided) {
                continue;
            }
            if bump(&mut self.affected, package)
                && movable(package)
                && !self.late.contains(package)
                && self.early.insert(package.clone())
            {
                moved = true;
            }
            if bump(&mut self.culprit, dependency)
                && movable(dependency)
                && !self.early.contains(dependency)
                && self.late.insert(dependency.clone())
            {
                moved = true;
            }
        }
        self.pending = moved && self.restarts < MAX_RESTARTS;
        self.pending
    }

    /// Whether the solve that just stopped should start again: then the counts go, and the
    /// moves stay.
    pub fn take_restart(&mut self) -> bool {
        if !std::mem::take(&mut self.pending) {
            return false;
        }
        self.restarts += 1;
        self.decided.clear();
        self.affected.clear();
        self.culprit.clear();
        true
    }
}

/// Counts one more rejection for `package`: whether it has reached [`THRESHOLD`].
fn bump(counts: &mut HashMap<Pkg, u32>, package: &Pkg) -> bool {
    let count = counts.entry(package.clone()).or_default();
    *count += 1;
    *count >= THRESHOLD
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use pep508_rs::PackageName;

    use super::*;

    fn pkg(name: &str) -> Pkg {
        Pkg::Name(PackageName::from_str(name).unwrap())
    }

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    #[test]
    fn the_fifth_rejection_moves_both_packages_once() {
        let (datasets, fsspec) = (pkg("datasets"), pkg("fsspec"));
        let mut t = Tracker::default();
        t.chose(&fsspec, &v("2026.4.0"));
        let needs_older = [(fsspec.clone(), Ranges::strictly_lower_than(v("2026.3")))];
        for round in 1..THRESHOLD {
            t.chose(&datasets, &v(&format!("4.{round}")));
            assert!(
                !t.dependencies(&datasets, &needs_older, |_| true),
                "{round}"
            );
        }
        assert!(t.dependencies(&datasets, &needs_older, |_| true));
        assert_eq!(t.moved(&datasets), Moved::Early);
        assert_eq!(t.moved(&fsspec), Moved::Late);
        // After the restart the counts start over, and nothing moves twice.
        assert!(t.take_restart());
        assert!(!t.take_restart());
        t.chose(&fsspec, &v("2026.4.0"));
        for _ in 0..2 * THRESHOLD {
            assert!(!t.dependencies(&datasets, &needs_older, |_| true));
        }
        assert!(Moved::Early > Moved::No && Moved::No > Moved::Late);
    }

    #[test]
    fn a_dependency_the_decided_version_satisfies_is_no_conflict() {
        let (a, b) = (pkg("a"), pkg("b"));
        let mut t = Tracker::default();
        t.chose(&a, &v("2.0"));
        for _ in 0..2 * THRESHOLD {
            assert!(!t.dependencies(&b, &[(a.clone(), Ranges::higher_than(v("1.0")))], |_| true));
        }
        // Undecided dependencies never count, and fixed packages never move.
        for _ in 0..2 * THRESHOLD {
            let deps = [(pkg("c"), Ranges::empty()), (a.clone(), Ranges::empty())];
            assert!(!t.dependencies(&b, &deps, |_| false));
        }
        assert_eq!(t.moved(&b), Moved::No);
        assert_eq!(t.moved(&a), Moved::No);
    }
}
