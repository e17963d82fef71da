//! The rendered files: the Dockerfile and `envlock/` files are byte-identical to what the options
//! recorded by the last `envlock dockerfile` run render from this lock.

use std::path::Path;

use anyhow::Result;
use rattler_conda_lock::LockFile;

use super::{DriftKind, Finding};
use crate::{
    lock::EnvlockMeta,
    render::{
        base_libc,
        plan::{DockerfileRequest, choose_base, render_all},
    },
};

/// The Dockerfile and `envlock/` files, rendered in memory with the recorded options.
pub(super) fn check(
    lock: &LockFile,
    meta: &EnvlockMeta,
    lockfile: &Path,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let Some(mut request) = DockerfileRequest::recorded(meta.docker.as_ref(), lockfile) else {
        return Ok(());
    };
    // The base as `envlock dockerfile` would choose it now: the recorded one, unless it no longer
    // fits the lock (a venv base for another python), in which case it would be re-pinned.
    let Some(recorded) = request.base.take() else {
        return Ok(());
    };
    let base = choose_base(lock, meta.docker.as_ref(), &request)?;
    if base.digest.is_none() {
        findings.push(Finding::file(
            &request.output,
            DriftKind::StaleBase,
            format!(
                "the recorded base {recorded} no longer fits {} (its python changed)",
                lockfile.display()
            ),
        ));
        return Ok(());
    }
    // A lock re-solved for a newer glibc than the recorded base has (`envlock dockerfile` now
    // refuses that base, and says what to do).
    if let Err(e) = base_libc::check_base(
        &base,
        &base_libc::locked_glibc(lock, meta),
        &lockfile.display().to_string(),
    ) {
        findings.push(Finding::file(
            &request.output,
            DriftKind::StaleBase,
            e.to_string(),
        ));
        return Ok(());
    }
    for file in render_all(lock, &request, &base)? {
        if file.keep_existing {
            continue;
        }
        if let Some(archive) = &file.archive {
            let message = match std::fs::read(&file.path) {
                Ok(bytes) if crate::util::sha256_hex(&bytes) == archive.sha256 => continue,
                Ok(_) => format!(
                    "{} is not the archive of {} that {} locks (sha256 {})",
                    file.path.display(),
                    archive.url.requested(),
                    lockfile.display(),
                    archive.sha256
                ),
                Err(_) => format!("{} is missing", file.path.display()),
            };
            findings.push(Finding::file(&file.path, DriftKind::Rendered, message));
            continue;
        }
        let message = match std::fs::read_to_string(&file.path) {
            Ok(text) if text == file.text => continue,
            Ok(_) => format!(
                "{} is not what `envlock dockerfile` renders from {}",
                file.path.display(),
                lockfile.display()
            ),
            Err(_) => format!("{} is missing", file.path.display()),
        };
        findings.push(Finding::file(&file.path, DriftKind::Rendered, message));
    }
    Ok(())
}
