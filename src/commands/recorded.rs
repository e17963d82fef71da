//! The options an existing lock records ([`Recorded`]), read for `check`, a re-run of `resolve`,
//! `resolve --check` and `dockerfile --locked`, which take them as the defaults for what the flags
//! and the inputs leave open.
//!
//! The lock is untrusted input (it arrives in pull requests): every value is parsed as the flag
//! it stands for would be, and a malformed one is an error naming its key. Recorded URLs carry no
//! credentials (envlock redacts them when it writes the lock).

use std::path::Path;

use anyhow::Result;
use rattler_conda_lock::LockFile;
use rattler_conda_types::{NamedChannelOrUrl, Subdir};
use url::Url;

use crate::{
    inputs::{Recorded, parse_platform, target::parse_virtual_package},
    lock::{self, EnvlockMeta},
    util::{error::Failure, redact},
};

/// What `key` of the lock holds, when it is not valid.
fn malformed(lockfile: &Path, key: &str, detail: impl std::fmt::Display) -> anyhow::Error {
    Failure::new(format!(
        "{}: the recorded `{key}` is not valid: {detail}",
        lockfile.display()
    ))
    .hint("run `envlock resolve --reset` to solve with the defaults and rewrite it")
    .into()
}

fn url(lockfile: &Path, key: &str, text: &str) -> Result<Url> {
    Url::parse(text).map_err(|e| {
        malformed(
            lockfile,
            key,
            format_args!("`{}`: {e}", redact::url_text(text)),
        )
    })
}

/// The options the lock at `lockfile` records; `None` when there is no lockfile.
pub fn read(lockfile: &Path) -> Result<Option<Recorded>> {
    if !lockfile.exists() {
        return Ok(None);
    }
    let lock = lock::read(lockfile)?;
    let meta = EnvlockMeta::read(&lock)?;
    from_lock(lockfile, &lock, &meta).map(Some)
}

/// The options `lock` (read from `lockfile`, with its `meta`) records.
pub fn from_lock(lockfile: &Path, lock: &LockFile, meta: &EnvlockMeta) -> Result<Recorded> {
    let platform = |text: &str| -> Result<Subdir> {
        parse_platform(text).map_err(|e| malformed(lockfile, "metadata.platforms", &e.message))
    };
    let platforms = lock
        .metadata
        .platforms
        .iter()
        .map(|p| platform(p))
        .collect::<Result<Vec<_>>>()?;
    let channels = lock
        .metadata
        .channels
        .iter()
        .map(|c| {
            c.url.parse::<NamedChannelOrUrl>().map_err(|e| {
                malformed(
                    lockfile,
                    "metadata.channels",
                    format_args!("`{}`: {e}", redact::url_text(&c.url)),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let channel_alias = meta
        .channel_alias
        .as_deref()
        .map(|a| url(lockfile, "envlock.channel_alias", a))
        .transpose()?;
    let mut virtual_packages = Vec::new();
    for (name, set) in &meta.virtual_packages {
        let key = format!("envlock.virtual_packages.{name}");
        let parsed = set
            .iter()
            .map(|v| parse_virtual_package(v).map_err(|e| malformed(lockfile, &key, e)))
            .collect::<Result<Vec<_>>>()?;
        virtual_packages.push((platform(name)?, parsed));
    }
    let indexes = meta
        .pypi_indexes
        .iter()
        .flatten()
        .map(|u| url(lockfile, "envlock.pypi.indexes", u))
        .collect::<Result<Vec<_>>>()?;
    Ok(Recorded {
        platforms,
        channels,
        channel_alias,
        exclude_newer: meta.exclude_newer,
        virtual_packages,
        indexes,
        index_strategy: meta.pypi_index_strategy,
        selection: meta
            .local_projects
            .iter()
            .find(|p| p.input)
            .map(|p| crate::inputs::Selection {
                extras: if p.all_extras {
                    Vec::new()
                } else {
                    p.extras.clone()
                },
                all_extras: p.all_extras,
                groups: p.groups.clone(),
            }),
        init: meta
            .init
            .as_ref()
            .map(|r| r.init == crate::lock::meta::InitChoice::Tini),
    })
}
