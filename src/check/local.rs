//! The local projects agree with the lock's record of them: the same projects, at the same
//! paths, with the same declared dependencies, extras and groups (a sha256 of them), the same
//! `-e`, the same build requirements. Their dependencies themselves are checked as pip requirements, like any other.
//!
//! A project whose dependencies come from its build backend cannot be read here (that means
//! running the backend): its dependencies are taken from the lock's record
//! ([`complete`]), and the files its metadata is computed from are compared with the sha256s the
//! lock recorded of them, each one changed, added or removed named.

use anyhow::Result;

use super::{DriftKind, Finding};
use crate::{
    inputs::Prepared,
    lock::{self, EnvlockMeta},
};

/// `prepared` with each local project whose dependencies come from its backend completed from
/// the lock's record of the project at the same path (its name when the inputs give none, its
/// version when not static, the requirements the hook gave): what `resolve` would have read,
/// as long as its build inputs did not change, which [`check`] reports.
pub(super) fn complete(prepared: &Prepared, meta: &EnvlockMeta) -> Result<Prepared> {
    let mut completed = prepared.clone();
    let records = lock::local_project_records(&prepared.inputs, &prepared.lockfile)?;
    for (index, record) in records.iter().enumerate() {
        if !prepared.inputs.local_projects[index].from_backend {
            continue;
        }
        let Some(locked) = meta
            .local_projects
            .iter()
            .find(|l| l.path == record.path && l.from_backend)
        else {
            continue;
        };
        let all_extras = prepared.inputs.local_projects[index].all_extras;
        completed.inputs.complete_local_project(
            index,
            &locked.name,
            locked.version.as_deref(),
            all_extras.then(|| locked.extras.clone()),
            locked.backend_requires.clone(),
        )?;
    }
    Ok(completed)
}

/// The build inputs that differ between `locked` and `now`, as `a, b (new), c (removed)`.
fn changed_inputs(
    locked: &std::collections::BTreeMap<String, String>,
    now: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    let mut changed = Vec::new();
    for (path, sha256) in now {
        match locked.get(path) {
            Some(old) if old == sha256 => {}
            Some(_) => changed.push(path.clone()),
            None => changed.push(format!("{path} (new)")),
        }
    }
    for path in locked.keys().filter(|p| !now.contains_key(*p)) {
        changed.push(format!("{path} (removed)"));
    }
    changed.sort();
    changed
}

/// Each local project of the inputs against the lock's record.
pub(super) fn check(
    prepared: &Prepared,
    meta: &EnvlockMeta,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let lockfile = &prepared.lockfile;
    let wanted = lock::local_project_records(&prepared.inputs, lockfile)?;
    for (project, record) in prepared.inputs.local_projects.iter().zip(&wanted) {
        let described = project.described_by();
        let finding = |message: String| Finding {
            message,
            file: described.clone(),
            line: None,
            platform: None,
            kind: DriftKind::LocalProject,
        };
        let Some(locked) = meta
            .local_projects
            .iter()
            .find(|l| l.name == record.name && l.path == record.path)
        else {
            findings.push(finding(format!(
                "the local project `{}` ({}) is not in the lock",
                project.shown(),
                described.display()
            )));
            continue;
        };
        if locked.from_backend != record.from_backend {
            findings.push(finding(format!(
                "the local project `{}` ({}) {} since the lock was resolved",
                record.name,
                described.display(),
                if record.from_backend {
                    "has dependencies its build backend computes"
                } else {
                    "declares its dependencies statically"
                }
            )));
            continue;
        }
        let changed = changed_inputs(&locked.build_inputs, &record.build_inputs);
        if !changed.is_empty() {
            findings.push(finding(format!(
                "the local project `{}`'s build inputs changed ({})",
                record.name,
                changed.join(", ")
            )));
        }
        if locked.dependencies_sha256 != record.dependencies_sha256
            || locked.extras != record.extras
            || locked.groups != record.groups
        {
            findings.push(finding(format!(
                "the declared dependencies, extras or groups of the local project `{}` ({}) \
                 changed since the lock was resolved",
                record.name,
                described.display()
            )));
        }
        // Locks from before build backends were pinned record none: nothing to compare.
        if locked.build_sha256.is_some() && locked.build_sha256 != record.build_sha256 {
            findings.push(finding(format!(
                "the build requirements ([build-system] requires) of the local project `{}` \
                 ({}) changed since the lock pinned them",
                record.name,
                described.display()
            )));
        }
        if locked.editable != record.editable || locked.version != record.version {
            findings.push(finding(format!(
                "the local project `{}` ({}) is recorded with another version or `-e` than the \
                 inputs give",
                record.name,
                described.display()
            )));
        }
    }
    for locked in &meta.local_projects {
        if !wanted
            .iter()
            .any(|w| w.name == locked.name && w.path == locked.path)
        {
            findings.push(Finding::lock(
                lockfile,
                None,
                DriftKind::LocalProject,
                format!(
                    "the lock records the local project `{}` at `{}`, which no input names",
                    locked.name, locked.path
                ),
            ));
        }
    }
    Ok(())
}
