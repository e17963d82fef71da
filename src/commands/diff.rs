//! `envlock diff`: two lockfiles → the changes per platform ([`crate::lock::diff`]). The old
//! lock defaults to the lockfile at git `HEAD`.

use std::{path::Path, process::Command};

use anyhow::{Context, Result};
use rattler_conda_lock::LockFile;

use crate::{lock, util::error::Failure};

/// The lockfile as committed at git `HEAD`.
pub fn at_head(lockfile: &Path) -> Result<(LockFile, String)> {
    let dir = lockfile
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = lockfile
        .file_name()
        .context("the lockfile path has no file name")?;
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .arg("show")
        .arg(format!("HEAD:./{}", name.to_string_lossy()))
        .output()
        .context("could not run git")?;
    if !out.status.success() {
        return Err(Failure::new(format!(
            "there is no {} at git HEAD: {}",
            lockfile.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
        .hint("name the old lockfile: `envlock diff OLD.yml NEW.yml`")
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lock = lock::parse(&text).map_err(|e| {
        Failure::new(format!(
            "{} at HEAD is not a valid lockfile: {}",
            lockfile.display(),
            e.kind()
        ))
    })?;
    Ok((lock, format!("{} at HEAD", lockfile.display())))
}

/// A lockfile from disk, with its name for display.
pub fn from_file(path: &Path) -> Result<(LockFile, String)> {
    Ok((lock::read(path)?, path.display().to_string()))
}
