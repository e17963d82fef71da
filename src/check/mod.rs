//! `envlock check`: does the lockfile still satisfy the inputs, and are the Dockerfile and its
//! files exactly what `envlock dockerfile` would render from it? No solve, no network.
//!
//! Checked, per locked platform:
//! - the lock is as envlock wrote it (a checksum of its package entries, so hand edits of a
//!   version, a hash, a URL or a removed package are found without the network);
//! - platforms, channels, the channel alias, virtual packages, `--exclude-newer` and package
//!   indexes agree with the inputs and options;
//! - every conda spec and every pip requirement (markers evaluated for the platform) is matched
//!   by a locked package, and every pip constraint holds;
//! - every locked package's dependencies are met inside the lock (conda packages by conda
//!   packages and virtual packages; pip packages by pip packages or what conda provides);
//! - nothing is locked that no input needs;
//! - the Dockerfile and `envlock/` files are byte-identical to what the options recorded by the
//!   last `envlock dockerfile` run render from this lock.
//!
//! The lock's input content hash is not used as a shortcut: every test above is cheap, and a
//! hash alone is both too strict (any edit to a comment changes it) and too loose (it cannot see
//! a hand-edited lock).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use anyhow::Result;
use rattler_conda_lock::Package;

use crate::{
    inputs::{Location, Prepared, target::parse_virtual_package},
    lock::{self, EnvlockMeta},
    solve::pypi::mapping::Mapping,
};

mod conda;
mod integrity;
mod local;
mod options;
mod pip;
mod rendered;

/// What fixes a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// Solve again: `envlock resolve`.
    Resolve,
    /// Render again: `envlock dockerfile`.
    Dockerfile,
}

impl Fix {
    /// The command to run.
    pub fn command(self) -> &'static str {
        match self {
            Fix::Resolve => "envlock resolve",
            Fix::Dockerfile => "envlock dockerfile",
        }
    }
}

/// What kind of disagreement a finding is; it decides the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftKind {
    /// The lock's package entries were changed after envlock wrote them.
    Edited,
    /// An option (platforms, channels, alias, cutoff, indexes, pip options, virtual packages)
    /// differs from what the lock was solved with.
    Options,
    /// The pip requirements ask for other extras than the lock was resolved for.
    Extras,
    /// A local project was added or removed, or its declared dependencies, extras or groups
    /// changed.
    LocalProject,
    /// An input (conda spec, pip requirement, constraint or `--hash`) is not met by the lock.
    Unsatisfied,
    /// A locked package depends on something nothing locked provides.
    UnmetDependency,
    /// A locked package that no input needs.
    Unneeded,
    /// A rendered file is missing or not what `envlock dockerfile` renders.
    Rendered,
    /// The recorded base image no longer fits the lock.
    StaleBase,
    /// A git requirement's tag or branch names another commit on its remote than the lock
    /// holds (`check --git-refs`, the one check that asks the network).
    MovedRef,
}

impl DriftKind {
    /// What fixes this kind of drift.
    pub fn fix(self) -> Fix {
        match self {
            DriftKind::Rendered | DriftKind::StaleBase => Fix::Dockerfile,
            _ => Fix::Resolve,
        }
    }

    /// The kind's name in `--format json` output.
    pub fn name(self) -> &'static str {
        match self {
            DriftKind::Edited => "edited",
            DriftKind::Options => "options",
            DriftKind::Extras => "extras",
            DriftKind::LocalProject => "local-project",
            DriftKind::Unsatisfied => "unsatisfied",
            DriftKind::UnmetDependency => "unmet-dependency",
            DriftKind::Unneeded => "unneeded",
            DriftKind::Rendered => "rendered",
            DriftKind::StaleBase => "stale-base",
            DriftKind::MovedRef => "moved-ref",
        }
    }
}

/// One disagreement between inputs, lock and rendered files.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What disagrees, as one sentence.
    pub message: String,
    /// The file (and line) the finding is about, for annotations.
    pub file: PathBuf,
    /// The line in `file`, when the finding is about one input line.
    pub line: Option<usize>,
    /// The platform the finding is about, if one.
    pub platform: Option<String>,
    /// What kind of drift it is.
    pub kind: DriftKind,
}

impl Finding {
    /// What fixes it.
    pub fn fix(&self) -> Fix {
        self.kind.fix()
    }

    /// A git requirement at `location` whose ref moved on its remote.
    pub fn moved_ref(location: &Location, message: String) -> Finding {
        Finding {
            kind: DriftKind::MovedRef,
            ..Finding::at(location, None, message)
        }
    }

    /// About an input line.
    fn at(location: &Location, platform: Option<&str>, message: String) -> Finding {
        Finding {
            message,
            file: location.file.clone(),
            line: Some(location.line),
            platform: platform.map(str::to_string),
            kind: DriftKind::Unsatisfied,
        }
    }

    /// An input requirement (`shown`, redacted) that nothing locked for `platform` satisfies;
    /// `locked` is the `name version` locked under its name, if any.
    fn unsatisfied(
        location: &Location,
        platform: &str,
        shown: &str,
        locked: Option<String>,
    ) -> Finding {
        let what = match locked {
            Some(l) => format!("is not satisfied by {l} locked for {platform}"),
            None => format!("has nothing locked for {platform}"),
        };
        Finding::at(
            location,
            Some(platform),
            format!("`{shown}` in {location} {what}"),
        )
    }

    /// About the lock as a whole, or one platform of it.
    fn lock(lockfile: &Path, platform: Option<&str>, kind: DriftKind, message: String) -> Finding {
        Finding {
            message,
            file: lockfile.to_path_buf(),
            line: None,
            platform: platform.map(str::to_string),
            kind,
        }
    }

    /// About a rendered file.
    fn file(path: &Path, kind: DriftKind, message: String) -> Finding {
        Finding {
            message,
            file: path.to_path_buf(),
            line: None,
            platform: None,
            kind,
        }
    }
}

/// Everything [`check`] found, and where the lockfile is.
pub struct Report {
    /// The lockfile checked.
    pub lockfile: PathBuf,
    /// What disagrees, sorted by file, line and platform; empty when everything agrees.
    pub findings: Vec<Finding>,
}

/// Compares the prepared inputs with the lock at `prepared.lockfile` and the rendered files.
pub fn check(prepared: &Prepared) -> Result<Report> {
    let lock = lock::read(&prepared.lockfile)?;
    let meta = EnvlockMeta::read(&lock)?;
    let mut findings = Vec::new();
    let lockfile = &prepared.lockfile;

    // Local projects whose dependencies their backend computes: as the lock recorded them.
    let completed;
    let prepared = if prepared
        .inputs
        .local_projects
        .iter()
        .any(|p| p.from_backend)
    {
        completed = local::complete(prepared, &meta)?;
        &completed
    } else {
        prepared
    };
    integrity::check(&lock, &meta, lockfile, &mut findings);
    options::check(prepared, &lock, &meta, &mut findings);
    local::check(prepared, &meta, &mut findings)?;

    let mapping = match &prepared.pypi_mapping {
        Some(path) => Mapping::with_file(path)?,
        None => Mapping::builtin(),
    };
    let local_names: Vec<String> = meta
        .local_projects
        .iter()
        .map(|p| {
            <pep508_rs::PackageName as std::str::FromStr>::from_str(&p.name)
                .map_or_else(|_| p.name.clone(), |n| n.to_string())
        })
        .collect();
    for platform in &lock.metadata.platforms {
        let packages: Vec<&Package> = lock
            .package
            .iter()
            .filter(|p| &p.platform == platform)
            .collect();
        let vps = meta
            .virtual_packages
            .get(platform)
            .into_iter()
            .flatten()
            .map(|v| parse_virtual_package(v))
            .collect::<Result<Vec<_>>>()?;
        conda::check(
            prepared,
            lockfile,
            platform,
            &packages,
            &vps,
            meta.init.as_ref(),
            &mut findings,
        )?;
        pip::check(
            prepared,
            lockfile,
            platform,
            &packages,
            &vps,
            &mapping,
            &meta.pypi_git,
            &mut findings,
        )?;
        pip::check_build(
            lockfile,
            platform,
            &packages,
            meta.pypi_build.get(platform),
            &local_names,
            &mut findings,
        );
    }

    rendered::check(&lock, &meta, lockfile, &mut findings)?;
    findings.sort_by(|a, b| {
        (&a.file, a.line, &a.platform, &a.message).cmp(&(&b.file, b.line, &b.platform, &b.message))
    });
    findings.dedup_by(|a, b| a.message == b.message);
    Ok(Report {
        lockfile: lockfile.clone(),
        findings,
    })
}

/// Names reachable from `roots` through `edges`.
fn reachable(roots: Vec<String>, edges: impl Fn(&str) -> Vec<String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = roots;
    while let Some(name) = stack.pop() {
        if seen.insert(name.clone()) {
            stack.extend(edges(&name));
        }
    }
    seen
}
