//! `envlock resolve`: inputs → conda solve → PyPI resolution → lock, written atomically.
//!
//! The existing lockfile is only replaced once every platform has solved and the new file is
//! complete, so a failed resolve never loses the previous lock. Its pins are the solvers'
//! preference (conda: resolvo's locked packages; PyPI: preferred versions) unless the
//! resolution options changed or `--update`/`--update-all` release them.

use std::{path::PathBuf, sync::Arc};

use anyhow::Result;
use rattler_conda_types::MatchSpec;
use rattler_repodata_gateway::Gateway;

use crate::{
    check::{self, Finding},
    inputs::{InputOptions, Prepared, prepare},
    lock::{self, EnvlockMeta, Pins, Update},
    net,
    solve::{
        self,
        conda::{PlatformSolution, Reporter, SolveOptions},
        pypi::{index::IndexClient, mapping::Mapping, resolver::Pinned},
    },
};

/// Everything `resolve` is told.
pub struct ResolveRequest {
    /// The inputs and the options that decide the lock.
    pub input: InputOptions,
    /// Where downloaded repodata and package metadata are cached.
    pub cache_dir: PathBuf,
    /// How much of an existing lock to keep.
    pub update: Update,
    /// Where progress goes.
    pub reporter: Arc<dyn Reporter>,
}

/// What a resolve locked.
pub struct ResolveOutcome {
    /// The lockfile written.
    pub lockfile: PathBuf,
    /// The conda solution of each platform.
    pub solutions: Vec<PlatformSolution>,
    /// The pip packages of each platform, in the order of `solutions`.
    pub pypi: Vec<Vec<Pinned>>,
    /// Things the user should know (ignored keys, options with no effect).
    pub warnings: Vec<String>,
}

/// What `resolve --check` did.
pub enum Checked {
    /// The lock agrees with the inputs; nothing was solved.
    UpToDate(PathBuf),
    /// The lock was missing or had drifted (these findings), and was solved again.
    Resolved {
        /// Why the lock was solved again; empty when there was no lock.
        drift: Vec<Finding>,
        /// The new lock.
        outcome: ResolveOutcome,
    },
}

/// `resolve --check`: checks the lock first (as `envlock check`) and solves only on drift.
pub async fn resolve_if_drifted(request: ResolveRequest) -> Result<Checked> {
    let prepared = prepare(&request.input)?;
    let mut drift = Vec::new();
    if prepared.lockfile.exists() {
        let report = check::check(&prepared)?;
        if report.findings.is_empty() {
            return Ok(Checked::UpToDate(report.lockfile));
        }
        drift = report.findings;
    }
    let outcome = resolve_prepared(prepared, &request).await?;
    Ok(Checked::Resolved { drift, outcome })
}

/// Solves the inputs for every platform and writes the lock.
pub async fn resolve(request: ResolveRequest) -> Result<ResolveOutcome> {
    let prepared = prepare(&request.input)?;
    resolve_prepared(prepared, &request).await
}

async fn resolve_prepared(prepared: Prepared, request: &ResolveRequest) -> Result<ResolveOutcome> {
    let fingerprint = lock::options_fingerprint(&prepared);
    let Prepared {
        inputs: mut spec,
        platforms,
        settings,
        channels,
        lockfile,
        indexes,
        virtual_packages,
        exclude_newer,
        pypi_mapping,
        ..
    } = prepared;
    let gateway = Gateway::builder()
        .with_client(settings.client(net::client()?))
        .with_cache_dir(request.cache_dir.join("repodata"))
        .finish();
    let specs: Vec<MatchSpec> = spec.conda.iter().map(|d| d.spec.clone()).collect();
    let previous = lock::read(&lockfile).ok();
    // What `envlock dockerfile` recorded outlives a re-resolve.
    let docker = match previous.as_ref().map(EnvlockMeta::read).transpose() {
        Ok(meta) => meta.and_then(|m| m.docker),
        Err(e) => {
            spec.warnings.push(format!(
                "{e:#}; the previous lock's envlock metadata is not carried over"
            ));
            None
        }
    };
    let pins = Pins::from_previous(
        previous.as_ref(),
        &request.update,
        &fingerprint,
        &mut spec.warnings,
    );
    let options = SolveOptions {
        preferred: pins.conda.clone(),
        channels,
        platforms,
        virtual_package_overrides: virtual_packages,
        exclude_newer,
    };
    let solutions =
        solve::conda::solve(&gateway, &specs, &options, request.reporter.clone()).await?;

    let pypi = if spec.pypi.requirements.is_empty() {
        vec![Vec::new(); solutions.len()]
    } else {
        let mapping = match &pypi_mapping {
            Some(path) => Mapping::with_file(path)?,
            None => Mapping::builtin(),
        };
        let client = Arc::new(IndexClient::new(
            net::with_retries(net::client()?),
            indexes.clone(),
            request.cache_dir.join("pypi"),
        ));
        solve::pypi::resolve_all(
            &spec.pypi,
            &solutions,
            client,
            &mapping,
            exclude_newer,
            &pins.pypi,
        )
        .await?
    };

    let inputs = lock::LockInputs {
        spec: &spec,
        channel_alias: &settings.alias,
        exclude_newer,
        lockfile: &lockfile,
        indexes: &indexes,
        options_fingerprint: fingerprint,
        docker,
    };
    let built = lock::build(&inputs, &solutions, &pypi)?;
    lock::write(&built, &lockfile)?;
    Ok(ResolveOutcome {
        lockfile,
        solutions,
        pypi,
        warnings: spec.warnings,
    })
}
