//! The options agree: platforms, channels, the channel alias, `--exclude-newer`, package
//! indexes and the index strategy, extras, the options fingerprint (pip's `--pre`, `--only-binary`, ...) and virtual
//! packages. Options not given on the command line were taken from the lock's record
//! ([`crate::inputs::Recorded`]), so what differs here is a flag or an input.

use std::path::Path;

use rattler_conda_lock::LockFile;
use rattler_conda_types::Subdir;

use super::{DriftKind, Finding};
use crate::{
    inputs::Prepared,
    lock::{self, EnvlockMeta},
    util::redact,
};

/// A finding about an option, which `dockerfile --locked` (not given the options) ignores.
fn option(lockfile: &Path, message: String) -> Finding {
    Finding::lock(lockfile, None, DriftKind::Options, message)
}

/// Platforms, channels, alias, virtual packages, cutoff and indexes.
pub(super) fn check(
    prepared: &Prepared,
    lock: &LockFile,
    meta: &EnvlockMeta,
    findings: &mut Vec<Finding>,
) {
    let lockfile = &prepared.lockfile;
    let mut wanted: Vec<String> = prepared.platforms.iter().map(Subdir::to_string).collect();
    let mut locked = lock.metadata.platforms.clone();
    wanted.sort();
    locked.sort();
    if wanted != locked {
        findings.push(option(
            lockfile,
            format!(
                "the lock has platforms [{}] but the inputs and options ask for [{}]",
                locked.join(", "),
                wanted.join(", ")
            ),
        ));
    }
    let channels = lock::recorded_channels(&prepared.inputs);
    let locked_channels: Vec<String> = lock
        .metadata
        .channels
        .iter()
        .map(|c| c.url.clone())
        .collect();
    if channels != locked_channels {
        findings.push(option(
            lockfile,
            format!(
                "the lock was solved with channels [{}] but the inputs list [{}]",
                locked_channels.join(", "),
                channels.join(", ")
            ),
        ));
    }
    let envlock_wrote = meta.version.is_some();
    let expect = |recorded: Option<String>,
                  wanted: Option<String>,
                  what: &str,
                  findings: &mut Vec<Finding>| {
        // Locks written by other tools do not record envlock's facts; nothing to compare.
        if recorded.is_none() && !envlock_wrote {
            return;
        }
        if recorded != wanted {
            findings.push(option(
                lockfile,
                format!(
                    "{what} is {} in the lock but {} now",
                    recorded.as_deref().unwrap_or("unset"),
                    wanted.as_deref().unwrap_or("unset")
                ),
            ));
        }
    };
    expect(
        meta.channel_alias.clone(),
        Some(redact::url(&prepared.settings.alias).to_string()),
        "the channel alias",
        findings,
    );
    expect(
        meta.exclude_newer.map(|t| t.to_string()),
        prepared.exclude_newer.map(|t| t.to_string()),
        "--exclude-newer",
        findings,
    );
    if !prepared.inputs.pypi.requirements.is_empty() {
        let indexes: Vec<String> = prepared
            .indexes
            .iter()
            .map(|u| redact::url(u).to_string())
            .collect();
        expect(
            meta.pypi_indexes.as_ref().map(|v| v.join(",")),
            Some(indexes.join(",")),
            "the package index list",
            findings,
        );
        expect(
            // Not recorded means the default.
            Some(
                meta.pypi_index_strategy
                    .unwrap_or_default()
                    .as_str()
                    .to_string(),
            ),
            Some(prepared.index_strategy.as_str().to_string()),
            "--index-strategy",
            findings,
        );
        // Extras change what is locked without changing any version constraint.
        let extras = lock::requested_extras(&prepared.inputs).join(",");
        let recorded = meta.pypi_extras.as_ref().map(|v| v.join(","));
        if envlock_wrote && recorded.as_ref() != Some(&extras) {
            findings.push(Finding::lock(
                lockfile,
                None,
                DriftKind::Extras,
                format!(
                    "the pip requirements ask for the extras [{extras}] but the lock was resolved for [{}]",
                    recorded.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    for platform in &prepared.platforms {
        let wanted: Vec<String> = prepared
            .virtual_packages_for(*platform)
            .iter()
            .map(|v| v.to_string())
            .collect();
        expect(
            meta.virtual_packages
                .get(&platform.to_string())
                .map(|v| v.join(",")),
            Some(wanted.join(",")),
            &format!("the virtual package set for {platform}"),
            findings,
        );
    }
    // The image's init: a lock made with --no-init, checked without it (or the reverse).
    let opted_out = lock::InitRecord::opted_out(meta.init.as_ref());
    if opted_out == prepared.init {
        let (was, now) = if opted_out {
            (
                "made with --no-init (no tini for the image's init)",
                "it is not given now",
            )
        } else {
            ("made without --no-init", "--no-init is given now")
        };
        findings.push(option(lockfile, format!("the lock was {was}, but {now}")));
    }
    // Everything the options decide is in one fingerprint; the checks above name most of it,
    // and this catches the rest (pip's --pre, --only-binary, --no-binary, --prefer-binary).
    let named = findings.iter().any(|f| f.kind == DriftKind::Options);
    if let Some(recorded) = &meta.options_sha256
        && !named
        && *recorded != lock::options_fingerprint(prepared)
    {
        findings.push(option(
            lockfile,
            "the resolution options changed since the lock was made \
             (pip's --pre, --only-binary, --no-binary or --prefer-binary)"
                .to_string(),
        ));
    }
}
