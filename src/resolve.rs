//! `envlock resolve`: inputs → spec → conda solve → PyPI resolution → lock, written atomically.
//!
//! The existing lockfile is only replaced once every platform has solved and the new file is
//! complete, so a failed resolve never loses the previous lock.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    str::FromStr,
    sync::Arc,
};

use anyhow::{Context, Result};
use jiff::Timestamp;
use rattler_conda_types::{
    GenericVirtualPackage, MatchSpec, NamedChannelOrUrl, ParseStrictness, Subdir,
};
use rattler_repodata_gateway::Gateway;
use url::Url;

use crate::{
    conda::{self, ChannelSettings, PlatformSolution, SolveOptions},
    error::{Failure, fail},
    http, lock,
    pypi::{
        index::{IndexClient, default_index},
        mapping::Mapping,
        resolver::{self, Pinned},
        tags::Target,
    },
    spec::{CondaDependency, InputKind, Spec},
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
    /// `X.Y` for the python that pip requirements are resolved against, when the inputs do not
    /// ask for one.
    pub python: Option<String>,
    /// Overrides the requirements files' `--index-url`.
    pub index_url: Option<Url>,
    pub extra_index_urls: Vec<Url>,
    pub pypi_mapping: Option<PathBuf>,
    /// How much of an existing lock to keep.
    pub update: Update,
    /// Where download progress goes; `None` when quiet or not on a terminal.
    pub progress: Option<indicatif::MultiProgress>,
}

/// Which pins of an existing lock a resolve keeps: the lock is the preference, so re-resolving
/// unchanged inputs changes nothing and adding a dependency adds only what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Keep every pin that still satisfies the inputs.
    Keep,
    /// Keep every pin but these packages' (by conda or PyPI name).
    Packages(Vec<String>),
    /// Ignore the existing lock.
    All,
}

pub struct ResolveOutcome {
    pub lockfile: PathBuf,
    pub solutions: Vec<PlatformSolution>,
    /// The pip packages of each platform, in the order of `solutions`.
    pub pypi: Vec<Vec<Pinned>>,
    pub warnings: Vec<String>,
}

/// The inputs of a resolve, normalized: what `resolve` solves and `check` compares a lock with.
pub struct Prepared {
    pub inputs: Vec<PathBuf>,
    pub spec: Spec,
    pub platforms: Vec<Subdir>,
    pub settings: ChannelSettings,
    pub channels: Vec<rattler_conda_types::Channel>,
    pub lockfile: PathBuf,
    /// Package indexes for pip requirements, in priority order.
    pub indexes: Vec<Url>,
}

/// Reads the inputs and applies the options, as `resolve` does before it solves.
pub fn prepare(request: &ResolveRequest) -> Result<Prepared> {
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
    let pip_only = inputs
        .iter()
        .all(|i| InputKind::of(i) == InputKind::Requirements);
    if pip_only && spec.channels.is_empty() {
        // A requirements.txt project still needs a python; conda-forge is where it comes from.
        spec.channels
            .push(NamedChannelOrUrl::Name("conda-forge".to_string()));
    }
    if spec.channels.iter().all(|c| c.as_str() == "nodefaults") {
        return Err(
            Failure::new(format!("{} lists no channels", inputs[0].display()))
                .hint("add `channels: [conda-forge]` to the file, or pass `--channel conda-forge`")
                .into(),
        );
    }
    if !spec.pypi.requirements.is_empty() {
        add_python_and_pip(&mut spec, request.python.as_deref())?;
    }
    if !spec.pypi.options.find_links.is_empty() {
        spec.warnings.push(
            "`--find-links` is ignored: envlock locks files from package indexes only".to_string(),
        );
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

    let mut indexes: Vec<Url> = vec![
        request
            .index_url
            .clone()
            .or_else(|| spec.pypi.options.index_url.clone())
            .unwrap_or_else(default_index),
    ];
    for url in spec
        .pypi
        .options
        .extra_index_urls
        .iter()
        .chain(&request.extra_index_urls)
    {
        if !indexes.contains(url) {
            indexes.push(url.clone());
        }
    }
    Ok(Prepared {
        inputs,
        spec,
        platforms,
        settings,
        channels,
        lockfile,
        indexes,
    })
}

pub async fn resolve(request: ResolveRequest) -> Result<ResolveOutcome> {
    let Prepared {
        mut spec,
        platforms,
        settings,
        channels,
        lockfile,
        indexes,
        ..
    } = prepare(&request)?;
    let gateway = Gateway::builder()
        .with_client(settings.client(http::client()?))
        .with_cache_dir(request.cache_dir.join("repodata"))
        .finish();
    let specs: Vec<MatchSpec> = spec.conda.iter().map(|d| d.spec.clone()).collect();
    let fingerprint = options_fingerprint(&spec, &settings, &indexes, &request);
    let previous = lock::read(&lockfile).ok();
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
        virtual_package_overrides: request.virtual_packages.clone(),
        exclude_newer: request.exclude_newer,
    };
    let solutions = conda::solve(&gateway, &specs, &options, request.progress.as_ref()).await?;

    let pypi = if spec.pypi.requirements.is_empty() {
        vec![Vec::new(); solutions.len()]
    } else {
        let mapping = match &request.pypi_mapping {
            Some(path) => Mapping::with_file(path)?,
            None => Mapping::builtin(),
        };
        let client = Arc::new(IndexClient::new(
            http::with_retries(http::client()?),
            indexes.clone(),
            request.cache_dir.join("pypi"),
        ));
        resolve_pypi(
            &spec,
            &solutions,
            client,
            &mapping,
            request.exclude_newer,
            &pins,
        )
        .await?
    };

    let inputs = lock::LockInputs {
        spec: &spec,
        channel_alias: &settings.alias,
        exclude_newer: request.exclude_newer,
        lockfile: &lockfile,
        indexes: &indexes,
        options_fingerprint: fingerprint,
    };
    let mut built = lock::build(&inputs, &solutions, &pypi)?;
    // What `envlock dockerfile` recorded (the pinned base, its options) outlives a re-resolve.
    if let Some(previous) = previous
        .as_ref()
        .and_then(|p| p.metadata.custom_metadata.as_ref())
    {
        let custom = built
            .metadata
            .custom_metadata
            .get_or_insert_with(Default::default);
        for (key, value) in previous {
            if key.starts_with(crate::dockerfile::META_PREFIX) {
                custom.insert(key.clone(), value.clone());
            }
        }
    }
    lock::write(&built, &lockfile)?;
    Ok(ResolveOutcome {
        lockfile,
        solutions,
        pypi,
        warnings: spec.warnings,
    })
}

/// The pins of an existing lock that a resolve prefers, per platform.
#[derive(Default)]
struct Pins {
    /// Conda record URLs.
    conda: HashMap<Subdir, HashSet<String>>,
    /// PyPI versions.
    pypi: HashMap<Subdir, HashMap<pep508_rs::PackageName, pep440_rs::Version>>,
}

impl Pins {
    /// The existing lock's pins, less those `update` releases. A missing or unreadable lock
    /// gives no pins (a resolve then starts from scratch, as with `--update-all`).
    fn from_previous(
        previous: Option<&rattler_conda_lock::LockFile>,
        update: &Update,
        fingerprint: &str,
        warnings: &mut Vec<String>,
    ) -> Pins {
        let released: HashSet<String> = match update {
            Update::All => return Pins::default(),
            Update::Keep => HashSet::new(),
            Update::Packages(names) => names.iter().map(|n| normalize(n)).collect(),
        };
        let Some(previous) = previous else {
            return Pins::default();
        };
        // New channels, indexes, cutoff or pip options: the old pins answer another question.
        let same_options = previous
            .metadata
            .custom_metadata
            .as_ref()
            .and_then(|c| c.get(lock::META_OPTIONS_SHA256))
            .is_some_and(|f| f == fingerprint);
        if !same_options {
            return Pins::default();
        }
        for name in &released {
            if !previous.package.iter().any(|p| &normalize(&p.name) == name) {
                warnings.push(format!(
                    "--update {name}: no package of that name is locked"
                ));
            }
        }
        let mut pins = Pins::default();
        for p in &previous.package {
            let Ok(platform) = p.platform.parse::<Subdir>() else {
                continue;
            };
            if released.contains(&normalize(&p.name)) {
                continue;
            }
            match p.manager {
                rattler_conda_lock::Manager::Conda => {
                    pins.conda
                        .entry(platform)
                        .or_default()
                        .insert(p.url.clone());
                }
                rattler_conda_lock::Manager::Pip => {
                    if let (Ok(name), Ok(version)) = (
                        pep508_rs::PackageName::from_str(&p.name),
                        pep440_rs::Version::from_str(&p.version),
                    ) {
                        pins.pypi.entry(platform).or_default().insert(name, version);
                    }
                }
            }
        }
        pins
    }
}

/// See [`lock::META_OPTIONS_SHA256`].
pub fn options_fingerprint(
    spec: &Spec,
    settings: &ChannelSettings,
    indexes: &[Url],
    request: &ResolveRequest,
) -> String {
    let channels = lock::recorded_channels(spec);
    let indexes: Vec<String> = indexes
        .iter()
        .map(|u| conda::strip_credentials(u).to_string())
        .collect();
    let mut virtual_packages: Vec<String> = request
        .virtual_packages
        .iter()
        .map(|v| v.to_string())
        .collect();
    virtual_packages.sort();
    let o = &spec.pypi.options;
    let value = serde_json::json!({
        "channels": channels,
        "alias": conda::strip_credentials(&settings.alias).to_string(),
        "indexes": indexes,
        "exclude_newer": request.exclude_newer.map(|t| t.to_string()),
        "pip": [o.pre.to_string(), o.prefer_binary.to_string(), format!("{:?}", o.only_binary), format!("{:?}", o.no_binary)],
        "virtual_packages": virtual_packages,
    });
    hex::encode(
        rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(
            value.to_string().as_bytes(),
        ),
    )
}

/// Package names compared the way both ecosystems mostly agree on: case, `_` and `.` ignored.
fn normalize(name: &str) -> String {
    name.to_lowercase().replace(['_', '.'], "-")
}

/// pip requirements need a python and pip from conda: add them when the inputs do not.
fn add_python_and_pip(spec: &mut Spec, python: Option<&str>) -> Result<()> {
    let location = spec.pypi.requirements[0].location.clone();
    let has = |spec: &Spec, name: &str| {
        spec.conda.iter().any(|d| {
            d.spec
                .name
                .as_exact()
                .is_some_and(|n| n.as_normalized() == name)
        })
    };
    let python_spec = match python {
        Some(v) => format!("python {v}.*"),
        None if has(spec, "python") => String::new(),
        None => "python 3.*".to_string(),
    };
    for text in [python_spec.as_str(), "pip"] {
        if text.is_empty() || (text == "pip" && has(spec, "pip")) {
            continue;
        }
        let parsed = MatchSpec::from_str(text, ParseStrictness::Lenient)
            .map_err(|e| Failure::new(format!("invalid --python `{text}`: {e}")))?;
        spec.conda.push(CondaDependency {
            spec: parsed,
            location: location.clone(),
        });
    }
    Ok(())
}

/// Resolves the pip requirements for every platform at once, each against the python and the
/// Python packages its conda solution installs.
async fn resolve_pypi(
    spec: &Spec,
    solutions: &[PlatformSolution],
    client: Arc<IndexClient>,
    mapping: &Mapping,
    exclude_newer: Option<Timestamp>,
    pins: &Pins,
) -> Result<Vec<Vec<Pinned>>> {
    let options = resolver::Options {
        pre: spec.pypi.options.pre,
        only_binary: spec.pypi.options.only_binary.clone(),
        no_binary: spec.pypi.options.no_binary.clone(),
        prefer_binary: spec.pypi.options.prefer_binary,
        exclude_newer,
        preferred: HashMap::new(),
    };
    let mut tasks = Vec::new();
    for solution in solutions {
        let python = solution
            .records
            .iter()
            .find(|r| r.package_record.name.as_normalized() == "python")
            .with_context(|| format!("the conda solve for {} has no python", solution.platform))?;
        let version = pep440_rs::Version::from_str(&python.package_record.version.to_string())
            .map_err(|e| anyhow::anyhow!("python {}: {e}", python.package_record.version))?;
        let target = Target::new(solution.platform, &version, &solution.virtual_packages)?;
        let conda = mapping.provided(&solution.records);
        let mut options = options.clone();
        options.preferred = pins
            .pypi
            .get(&solution.platform)
            .cloned()
            .unwrap_or_default();
        let (client, requirements, constraints) = (
            client.clone(),
            spec.pypi.requirements.clone(),
            spec.pypi.constraints.clone(),
        );
        tasks.push(tokio::spawn(async move {
            resolver::resolve(
                client,
                &requirements,
                &constraints,
                &target,
                &conda,
                &options,
            )
            .await
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.context("PyPI resolution task failed")??);
    }
    Ok(out)
}
