//! `envlock resolve`: inputs → conda solve → PyPI resolution → lock, written atomically.
//!
//! The existing lockfile is only replaced once every platform has solved and the new file is
//! complete, so a failed resolve never loses the previous lock. Its pins are the solvers'
//! preference (conda: resolvo's locked packages; PyPI: preferred versions) unless the
//! resolution options changed or `--update`/`--update-all` release them.
//!
//! Every Linux platform whose inputs do not name tini gets it as an optional spec, for the
//! image's init (unless `--no-init`); where no channel can give it, the resolve warns instead of
//! failing, and the lock's `envlock.init` records both.

use std::{path::PathBuf, str::FromStr, sync::Arc};

use anyhow::Result;
use rattler_conda_types::MatchSpec;
use rattler_repodata_gateway::Gateway;

use crate::{
    check::{self, Finding},
    inputs::{InputOptions, Prepared, prepare, prepare_with},
    lock::{
        self, EnvlockMeta, Pins, Update,
        meta::{INIT_PACKAGE, InitChoice, InitRecord},
    },
    net,
    solve::{
        self,
        conda::{PlatformSolution, Reporter, SolveOptions},
        pypi::{
            build::{BuildOptions, Builder},
            build_set::{self, BuildSet},
            index::IndexClient,
            mapping::Mapping,
            resolver::Pinned,
        },
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
    /// `--build-python`: the python that builds sdists without static metadata, instead of
    /// one found on `PATH`.
    pub build_python: Option<PathBuf>,
    /// `--reset`: ignore the options the existing lock records, so what the flags and inputs
    /// leave open takes the defaults.
    pub reset: bool,
    /// `--allow-changed-hashes`: accept files the existing lock holds under the same URL with
    /// another hash (not recorded in the lock; each run must say it again).
    pub allow_changed_hashes: bool,
    /// `--refresh`: revalidate every cached index page, also those a `--exclude-newer` resolve
    /// would use as they are.
    pub refresh: bool,
    /// `--offline`: cached repodata, pages and metadata only; what is missing is an error.
    pub offline: bool,
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
    /// What was built to learn an sdist's dependencies: package, python, build requirements.
    pub builds: Vec<String>,
    /// The options taken from the existing lock, each as its flag ([`Prepared::recorded`]).
    pub recorded: Vec<String>,
    /// Per platform (in the order of `solutions`), what the image needs to build its sdists.
    pub build_sets: Vec<BuildSet>,
    /// What was done about the image's init (as the lock records it).
    pub init: Option<InitRecord>,
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
        outcome: Box<ResolveOutcome>,
    },
}

/// `resolve --check`: checks the lock first (as `envlock check`) and solves only on drift.
pub async fn resolve_if_drifted(request: ResolveRequest) -> Result<Checked> {
    let prepared = prepare_request(&request)?;
    let mut drift = Vec::new();
    if prepared.lockfile.exists() {
        let report = check::check(&prepared)?;
        if report.findings.is_empty() {
            return Ok(Checked::UpToDate(report.lockfile));
        }
        drift = report.findings;
    }
    let outcome = resolve_prepared(prepared, &request).await?;
    Ok(Checked::Resolved {
        drift,
        outcome: Box::new(outcome),
    })
}

/// Solves the inputs for every platform and writes the lock.
pub async fn resolve(request: ResolveRequest) -> Result<ResolveOutcome> {
    let prepared = prepare_request(&request)?;
    resolve_prepared(prepared, &request).await
}

/// The request's inputs and options, with the existing lock's recorded options for what they
/// leave open (unless `--reset`). Solving fetches from a recorded channel alias and recorded
/// indexes as pixi and uv fetch from the URLs their lockfiles name: whoever can change the lock
/// can change the inputs' channels and `--index-url` as well, recorded URLs carry no
/// credentials, and [`ResolveOutcome::recorded`] names every recorded option used.
fn prepare_request(request: &ResolveRequest) -> Result<Prepared> {
    if request.reset {
        prepare(&request.input)
    } else {
        prepare_with(&request.input, |lockfile| {
            // A lock (or envlock metadata) that does not read is solved again from the
            // defaults, as if there were none; the solve warns that its metadata is not carried
            // over. A recorded option that does not parse is an error naming it.
            let Ok(lock) = lock::read(lockfile) else {
                return Ok(None);
            };
            let Ok(meta) = EnvlockMeta::read(&lock) else {
                return Ok(None);
            };
            super::recorded::from_lock(lockfile, &lock, &meta).map(Some)
        })
    }
}

async fn resolve_prepared(prepared: Prepared, request: &ResolveRequest) -> Result<ResolveOutcome> {
    let fingerprint = lock::options_fingerprint(&prepared);
    let search_order = prepared.index_priority();
    let Prepared {
        inputs: mut spec,
        platforms,
        settings,
        channels,
        lockfile,
        indexes,
        index_strategy,
        virtual_packages,
        exclude_newer,
        pypi_mapping,
        recorded,
        init,
        ..
    } = prepared;
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
    // The image's init: tini on every Linux platform, unless the inputs name it or --no-init.
    let names_init = spec.conda.iter().any(|d| {
        d.spec
            .name
            .as_exact()
            .is_some_and(|n| n.as_normalized() == INIT_PACKAGE)
    });
    let init_spec =
        MatchSpec::from_str(INIT_PACKAGE, rattler_conda_types::ParseStrictness::Strict)?;
    let optional = if init && !names_init {
        platforms
            .iter()
            .filter(|p| p.as_str().starts_with("linux-"))
            .map(|p| (*p, vec![init_spec.clone()]))
            .collect()
    } else {
        Default::default()
    };
    let options = SolveOptions {
        preferred: pins.conda.clone(),
        channels,
        platforms,
        virtual_packages,
        exclude_newer,
        offline: request.offline,
        optional,
        cache_dir: request.cache_dir.join("repodata"),
    };
    let repodata_cache = options.cache_dir.clone();
    // The cache: private (0700) and writable, else one error naming it and `--cache-dir`.
    // `--offline` only reads it, so a read-only cache is fine there.
    if !request.offline {
        for dir in [
            &request.cache_dir,
            &repodata_cache,
            &request.cache_dir.join("pypi"),
        ] {
            crate::util::fs::prepare_cache_dir(dir)?;
        }
    }
    let gateway = Gateway::builder()
        .with_client(settings.client()?)
        .with_channel_config(solve::conda::channel_config(
            &options,
            &repodata_cache,
            request.refresh,
        ))
        .with_cache_dir(repodata_cache.clone())
        .finish();
    let solved = solve::conda::solve(&gateway, &specs, &options, request.reporter.clone()).await;
    // rattler writes its repodata cache with the umask's modes; close it as envlock's own
    // cache files are (the directory is 0700 already, so this is for a cache copied elsewhere).
    crate::util::fs::restrict_cache_tree(&repodata_cache);
    let solutions = solved?;
    let init = init_record(init, &options, &solutions, &mut spec.warnings);

    let mut builds = Vec::new();
    let mut build_sets = Vec::new();
    // A local project whose dependencies its backend computes needs the builder even when the
    // inputs list no pip requirement.
    let backend_projects = spec.local_projects.iter().any(|p| p.from_backend);
    let pypi = if spec.pypi.requirements.is_empty() && !backend_projects {
        vec![Vec::new(); solutions.len()]
    } else {
        let mapping = match &pypi_mapping {
            Some(path) => Mapping::with_file(path)?,
            None => Mapping::builtin(),
        };
        let http = net::with_retries()?;
        let cache = request.cache_dir.join("pypi");
        let index_client = || {
            IndexClient::new(http.clone(), search_order.clone(), cache.clone())
                .with_strategy(index_strategy)
                .with_exclude_newer(exclude_newer)
                .with_refresh(request.refresh)
                .with_offline(request.offline)
        };
        // Build requirements come from the same indexes, through a client of their own that
        // builds nothing (they must be wheels).
        let build_client = Arc::new(index_client());
        let mut build_options = BuildOptions::new(target_python(&solutions));
        build_options.python = request.build_python.clone();
        build_options.exclude_newer = exclude_newer;
        let builder = Arc::new(Builder::new(build_client.clone(), build_options));
        let client = Arc::new(index_client().with_builder(builder.clone()));
        let pythons: Vec<(String, pep440_rs::Version)> = solutions
            .iter()
            .filter_map(|s| {
                let target = solve::pypi::target_of(s).ok()?;
                Some((s.platform.to_string(), target.python_version().clone()))
            })
            .collect();
        solve::pypi::local::read_backend_projects(&mut spec, &builder, &pythons).await?;
        let resolved = solve::pypi::resolve_all(
            &spec.pypi,
            &solutions,
            client,
            &mapping,
            exclude_newer,
            &pins.pypi,
            &mut spec.warnings,
        )
        .await;
        builds = builder.notes();
        let resolved = resolved?;
        // The sdists' build requirements, for the target: never a reason to fail the resolve.
        let targets = solutions
            .iter()
            .map(solve::pypi::target_of)
            .collect::<Result<Vec<_>>>()?;
        let preferred: Vec<_> = solutions
            .iter()
            .map(|s| {
                pins.pypi_build
                    .get(&s.platform)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        let locals: Vec<build_set::LocalBuild> = spec
            .local_projects
            .iter()
            .filter_map(|p| {
                Some(build_set::LocalBuild {
                    name: pep508_rs::PackageName::from_str(&p.name).ok()?,
                    version: p
                        .version
                        .as_deref()
                        .and_then(|v| pep440_rs::Version::from_str(v).ok())
                        .unwrap_or_else(|| pep440_rs::Version::new([0])),
                    requires: p.build_system_requires(),
                })
            })
            .collect();
        build_sets = build_set::resolve_build_sets(
            build_client,
            &targets,
            &resolved,
            &locals,
            exclude_newer,
            &preferred,
            &request.cache_dir.join("pypi"),
        )
        .await;
        for (solution, set) in solutions.iter().zip(&build_sets) {
            for sdist in &set.sdists {
                if let Err(why) = &sdist.needs {
                    let local = locals.iter().any(|l| l.name == sdist.name);
                    spec.warnings.push(format!(
                        "the build requirements of {} {} {} cannot be pinned for {}: {why}; \
                         the image builds it with pip's build isolation, fetching them unpinned",
                        if local {
                            "the local project"
                        } else {
                            "the sdist"
                        },
                        sdist.name,
                        sdist.version,
                        solution.platform
                    ));
                }
            }
        }
        resolved
    };

    let inputs = lock::LockInputs {
        spec: &spec,
        channel_alias: &settings.alias,
        exclude_newer,
        lockfile: &lockfile,
        indexes: &indexes,
        index_strategy,
        options_fingerprint: fingerprint,
        docker,
        build_sets: &build_sets,
        init: init.as_ref(),
    };
    let built = lock::build(&inputs, &solutions, &pypi)?;
    if let Some(previous) = previous.as_ref()
        && !request.allow_changed_hashes
    {
        refuse_changed_hashes(&lockfile, previous, &built)?;
    }
    lock::write(&built, &lockfile)?;
    Ok(ResolveOutcome {
        lockfile,
        solutions,
        pypi,
        warnings: spec.warnings,
        builds,
        recorded,
        build_sets,
        init,
    })
}

/// What the lock records about the image's init: `--no-init`, or where tini was added and
/// where no channel offered it (with a warning naming those); `None` when there is nothing to
/// say (the inputs name tini, or no platform is Linux).
fn init_record(
    init: bool,
    options: &SolveOptions,
    solutions: &[PlatformSolution],
    warnings: &mut Vec<String>,
) -> Option<InitRecord> {
    if !init {
        return Some(InitRecord {
            init: InitChoice::None,
            added: vec![],
            unavailable: vec![],
        });
    }
    let mut added = Vec::new();
    let mut unavailable = Vec::new();
    // Platforms by the reason tini is not added there, for one warning per reason.
    let mut why_not: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for solution in solutions {
        if !options.optional.contains_key(&solution.platform) {
            continue;
        }
        let platform = solution.platform.to_string();
        match solution.dropped.first() {
            None => added.push(platform),
            Some((_, why)) => {
                why_not
                    .entry(why.clone())
                    .or_default()
                    .push(platform.clone());
                unavailable.push(platform);
            }
        }
    }
    for (why, platforms) in why_not {
        warnings.push(format!(
            "tini is not added for the image's init on {} ({why}): add a channel that has it, \
             or opt out with `envlock resolve --no-init`; until then `envlock dockerfile` \
             refuses the lock",
            platforms.join(", ")
        ));
    }
    added.sort();
    unavailable.sort();
    (!added.is_empty() || !unavailable.is_empty()).then_some(InitRecord {
        init: InitChoice::Tini,
        added,
        unavailable,
    })
}

/// A file the existing lock holds under the same URL with another hash is a republished or
/// tampered artifact: refused, naming each, until the user accepts them explicitly.
fn refuse_changed_hashes(
    lockfile: &std::path::Path,
    previous: &rattler_conda_lock::LockFile,
    built: &rattler_conda_lock::LockFile,
) -> Result<()> {
    let changes = lock::diff::changed_hashes(previous, built);
    if changes.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "{} locks {} with other content than before (same file, different hash); the lock is left as it was:",
        lockfile.display(),
        if changes.len() == 1 {
            "a file".to_string()
        } else {
            format!("{} files", changes.len())
        }
    );
    for c in &changes {
        message.push_str(&format!(
            "\n  {} ({}, {}): {}\n    was {}\n    now {}",
            c.name,
            c.manager,
            c.platform,
            crate::util::redact::url_text(&c.url),
            c.old,
            c.new
        ));
    }
    Err(crate::util::error::Failure::new(message)
        .hint(
            "a channel or index does not republish a file under the same name: verify the new \
             file with its publisher (or the mirror), then accept it with \
             `envlock resolve --allow-changed-hashes`",
        )
        .into())
}

/// The python version the pip packages are locked for (the first platform's conda python), which
/// sdist builds try to match; 3 when no platform has one (the PyPI resolution then fails
/// clearly).
fn target_python(solutions: &[PlatformSolution]) -> pep440_rs::Version {
    solutions
        .iter()
        .flat_map(|s| &s.records)
        .find(|r| r.package_record.name.as_normalized() == "python")
        .and_then(|r| pep440_rs::Version::from_str(&r.package_record.version.to_string()).ok())
        .unwrap_or_else(|| pep440_rs::Version::new([3]))
}
