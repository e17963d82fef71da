//! `envlock resolve`: inputs → spec → solve → lock, written atomically.
//!
//! The existing lockfile is only replaced once every platform has solved and the new file is
//! complete, so a failed resolve never loses the previous lock.

use std::path::{Path, PathBuf};

use anyhow::Result;
use jiff::Timestamp;
use rattler_conda_types::{GenericVirtualPackage, MatchSpec, NamedChannelOrUrl, Subdir};
use rattler_repodata_gateway::Gateway;
use url::Url;

use crate::{
    conda::{self, ChannelSettings, PlatformSolution, SolveOptions},
    error::{Failure, fail},
    http, lock,
    spec::Spec,
};

/// The platforms locked when neither `--platform` nor `platforms:` says otherwise: the two
/// that Docker images are built for.
pub const DEFAULT_PLATFORMS: [Subdir; 2] = [Subdir::Linux64, Subdir::LinuxAarch64];

/// Everything `resolve` is told on the command line.
pub struct ResolveRequest {
    pub inputs: Vec<PathBuf>,
    pub lockfile: Option<PathBuf>,
    pub platforms: Vec<Subdir>,
    pub channels: Vec<String>,
    pub channel_alias: Url,
    pub mirrors: Vec<String>,
    pub virtual_packages: Vec<GenericVirtualPackage>,
    pub exclude_newer: Option<Timestamp>,
    pub cache_dir: PathBuf,
    /// Where download progress goes; `None` when quiet or not on a terminal.
    pub progress: Option<indicatif::MultiProgress>,
}

pub struct ResolveOutcome {
    pub lockfile: PathBuf,
    pub solutions: Vec<PlatformSolution>,
    pub warnings: Vec<String>,
}

pub async fn resolve(request: ResolveRequest) -> Result<ResolveOutcome> {
    let inputs = if request.inputs.is_empty() {
        crate::spec::default_inputs(Path::new("."))?
    } else {
        request.inputs.clone()
    };
    let mut spec = Spec::load(&inputs)?;
    for channel in &request.channels {
        let parsed: NamedChannelOrUrl = channel.parse().map_err(|e| {
            Failure::new(format!(
                "invalid --channel `{}`: {e}",
                conda::redact(channel)
            ))
        })?;
        if !spec.channels.contains(&parsed) {
            spec.channels.push(parsed);
        }
    }
    if spec.channels.iter().all(|c| c.as_str() == "nodefaults") {
        return Err(
            Failure::new(format!("{} lists no channels", inputs[0].display()))
                .hint("add `channels: [conda-forge]` to the file, or pass `--channel conda-forge`")
                .into(),
        );
    }
    if let Some(first) = spec.pip.first() {
        // The PyPI resolver is not there yet; say so rather than produce a lock that looks whole.
        spec.warnings.push(format!(
            "{}: {} `pip:` entries are not locked yet: this envlock locks the conda part only",
            first.location,
            spec.pip.len()
        ));
    }
    if spec.conda.is_empty() {
        fail!(
            "{} lists no conda dependencies to lock",
            inputs[0].display()
        );
    }

    let platforms = if !request.platforms.is_empty() {
        request.platforms.clone()
    } else if !spec.platforms.is_empty() {
        spec.platforms.clone()
    } else {
        DEFAULT_PLATFORMS.to_vec()
    };

    let input_dir = inputs[0].parent().unwrap_or(Path::new("")).to_path_buf();
    let lockfile = request
        .lockfile
        .clone()
        .unwrap_or_else(|| input_dir.join("conda-lock.yml"));
    let input_dir = if input_dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        input_dir
    };

    let mut settings = ChannelSettings {
        alias: request.channel_alias.clone(),
        mirrors: vec![],
        root_dir: std::path::absolute(&input_dir).unwrap_or(input_dir.clone()),
    };
    for mirror in &request.mirrors {
        settings.add_mirror(mirror)?;
    }
    let channels = settings.resolve(&spec.channels)?;

    let gateway = Gateway::builder()
        .with_client(settings.client(http::client()?))
        .with_cache_dir(request.cache_dir.join("repodata"))
        .finish();
    let specs: Vec<MatchSpec> = spec.conda.iter().map(|d| d.spec.clone()).collect();
    let options = SolveOptions {
        channels,
        platforms,
        virtual_package_overrides: request.virtual_packages.clone(),
        exclude_newer: request.exclude_newer,
    };
    let solutions = conda::solve(&gateway, &specs, &options, request.progress.as_ref()).await?;

    let inputs = lock::LockInputs {
        spec: &spec,
        channel_alias: &settings.alias,
        exclude_newer: request.exclude_newer,
        lockfile: &lockfile,
    };
    let built = lock::build(&inputs, &solutions)?;
    lock::write(&built, &lockfile)?;
    Ok(ResolveOutcome {
        lockfile,
        solutions,
        warnings: spec.warnings,
    })
}
