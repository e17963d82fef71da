//! `envlock check`: prepare the inputs as `resolve` would (options not given take the values the
//! lock records, [`super::recorded`]), then compare them with the lock and the rendered files
//! ([`crate::check`]). No solve, no network: a recorded URL is only compared, never fetched. The
//! one exception is asked for by name: `--git-refs` asks each git requirement's remote what its
//! tag or branch names now.

use std::collections::BTreeSet;

use anyhow::Result;
use pep508_rs::VersionOrUrl;

use crate::{
    check::{self, Finding, Report},
    inputs::{InputOptions, Prepared, prepare_with},
    lock,
    solve::pypi::git::{self, GitUrl},
};

/// Checks the lock `options` point at against the inputs and the rendered files, taking what
/// the options leave open from the lock.
pub fn check(options: &InputOptions) -> Result<Report> {
    check_with(options, false)
}

/// [`check`], and with `git_refs` also whether each git requirement's ref still names the locked
/// commit on its remote.
pub fn check_with(options: &InputOptions, git_refs: bool) -> Result<Report> {
    let prepared = prepare_with(options, super::recorded::read)?;
    let mut report = check::check(&prepared)?;
    if git_refs {
        moved_refs(&prepared, &mut report)?;
    }
    Ok(report)
}

/// A finding for each git requirement whose tag or branch now names a commit the lock lacks.
fn moved_refs(prepared: &Prepared, report: &mut Report) -> Result<()> {
    let lock = lock::read(&prepared.lockfile)?;
    for r in &prepared.inputs.pypi.requirements {
        let Some(VersionOrUrl::Url(url)) = &r.requirement.version_or_url else {
            continue;
        };
        if !url.scheme().starts_with("git+") {
            continue;
        }
        let wanted = GitUrl::parse(url)?;
        let locked: BTreeSet<String> = lock
            .package
            .iter()
            .filter(|p| lock::is_env_pip(p) && p.name == r.requirement.name.as_ref())
            .filter_map(|p| url::Url::parse(&p.url).ok())
            .filter_map(|u| GitUrl::parse(&u).ok())
            .filter_map(|g| g.locked_commit().map(str::to_string))
            .collect();
        // Nothing locked, or another repository: the offline checks report that.
        if locked.is_empty() {
            continue;
        }
        let reference = wanted.reference.as_deref().unwrap_or("HEAD");
        let short = |c: &str| c.chars().take(12).collect::<String>();
        let message = match git::remote_commit(&wanted)? {
            Some(now) if locked.contains(&now) => continue,
            Some(now) => format!(
                "`{reference}` of {} ({}) now names commit {}, and {} locks {}",
                wanted.display_repository(),
                r.location,
                short(&now),
                prepared.lockfile.display(),
                locked
                    .iter()
                    .map(|c| short(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!(
                "{} ({}) has no `{reference}` any more",
                wanted.display_repository(),
                r.location
            ),
        };
        report
            .findings
            .push(Finding::moved_ref(&r.location, message));
    }
    Ok(())
}
