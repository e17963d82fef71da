//! The local projects agree with the lock's record of them: the same projects, at the same
//! paths, with the same declared dependencies, extras and groups (a sha256 of them), the same
//! `-e`, the same build requirements. Their dependencies themselves are checked as pip requirements, like any other.

use anyhow::Result;

use super::{DriftKind, Finding};
use crate::{
    inputs::Prepared,
    lock::{self, EnvlockMeta},
};

/// Each local project of the inputs against the lock's record.
pub(super) fn check(
    prepared: &Prepared,
    meta: &EnvlockMeta,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let lockfile = &prepared.lockfile;
    let wanted = lock::local_project_records(&prepared.inputs, lockfile)?;
    for (project, record) in prepared.inputs.local_projects.iter().zip(&wanted) {
        let finding = |message: String| Finding {
            message,
            file: project.pyproject.clone(),
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
                record.name,
                project.pyproject.display()
            )));
            continue;
        };
        if locked.dependencies_sha256 != record.dependencies_sha256
            || locked.extras != record.extras
            || locked.groups != record.groups
        {
            findings.push(finding(format!(
                "the declared dependencies, extras or groups of the local project `{}` ({}) \
                 changed since the lock was resolved",
                record.name,
                project.pyproject.display()
            )));
        }
        // Locks from before build backends were pinned record none: nothing to compare.
        if locked.build_sha256.is_some() && locked.build_sha256 != record.build_sha256 {
            findings.push(finding(format!(
                "the build requirements ([build-system] requires) of the local project `{}` \
                 ({}) changed since the lock pinned them",
                record.name,
                project.pyproject.display()
            )));
        }
        if locked.editable != record.editable || locked.version != record.version {
            findings.push(finding(format!(
                "the local project `{}` ({}) is recorded with another version or `-e` than the \
                 inputs give",
                record.name,
                project.pyproject.display()
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
