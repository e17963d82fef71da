//! Conda solving: channels → repodata → one resolvo solve per target platform.
//!
//! Supported: `https://`, `http://` and `file://` channels through rattler's repodata gateway
//! (sharded repodata and `.zst` when a channel serves them, plain `repodata.json` otherwise; an
//! on-disk HTTP cache with revalidation, which a cutoff resolve skips for repodata downloaded
//! well after the cutoff, see [`channel_config`]), strict channel priority, highest versions,
//! `--exclude-newer`, and virtual packages from a fixed table that never reads the host (see
//! [`crate::inputs::target::virtual_packages`]).
//!
//! Not supported: conda's `custom_channels`/`custom_multichannels` settings, flexible channel
//! priority, and `__cuda` unless it is given explicitly.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::Arc,
};

use anyhow::{Context, Result};
use jiff::Timestamp;
use rattler_conda_types::{
    Channel, GenericVirtualPackage, MatchSpec, Matches, RepoDataRecord, Subdir,
};
use rattler_repodata_gateway::{Gateway, RepoDataQueryOutput, SourceConfig, fetch::CacheAction};
use rattler_solve::{
    ChannelPriority, ExcludeNewer, SolveError, SolveStrategy, SolverImpl, SolverTask,
    TimestampPolicy,
};
use serde::Deserialize;
use url::Url;

use crate::{
    inputs::target::virtual_packages,
    solve::pypi::index::CUTOFF_MARGIN,
    util::{
        error::{Failure, fail},
        redact,
    },
};

/// Everything one solve needs besides the specs.
pub struct SolveOptions {
    /// The channels, in priority order.
    pub channels: Vec<Channel>,
    /// The platforms to solve for.
    pub platforms: Vec<Subdir>,
    /// Per platform, the virtual packages to solve for ([`Prepared::virtual_packages`]); a
    /// platform missing here gets the fixed table.
    ///
    /// [`Prepared::virtual_packages`]: crate::inputs::Prepared::virtual_packages
    pub virtual_packages: Vec<(Subdir, Vec<GenericVirtualPackage>)>,
    /// `--exclude-newer`.
    pub exclude_newer: Option<Timestamp>,
    /// Per platform, the URLs of records to keep when they still fit (an existing lock's): the
    /// solver prefers them over newer versions, so re-resolving does not churn.
    pub preferred: HashMap<Subdir, HashSet<String>>,
    /// `--offline`: the gateway reads only its cache, so missing repodata is an unfilled cache.
    pub offline: bool,
    /// Per platform, specs added when the channels can satisfy them and left out (named in
    /// [`PlatformSolution::dropped`]) when they cannot: the image's init.
    pub optional: HashMap<Subdir, Vec<MatchSpec>>,
    /// The gateway's repodata cache, where a downloaded `repodata.json` that does not parse
    /// is found to name its URL (the gateway's error does not).
    pub cache_dir: std::path::PathBuf,
}

/// How the gateway uses its cache of repodata in `cache_dir` for a solve with `options`.
///
/// `--offline`: only the cache, however old. A cutoff resolve (`--exclude-newer T`, without
/// `refresh`) uses a channel's cached repodata without asking the channel when every subdir it
/// needs (each platform and noarch) was downloaded at least [`CUTOFF_MARGIN`] after `T`: it
/// already lists every package such a solve may take, as a PyPI page fetched after the cutoff
/// does ([`crate::solve::pypi::index`]). What can differ is a package removed after the
/// download. Other channels, and every channel without a cutoff, are revalidated as before.
pub fn channel_config(
    options: &SolveOptions,
    cache_dir: &Path,
    refresh: bool,
) -> rattler_repodata_gateway::ChannelConfig {
    let cache_only = SourceConfig {
        cache_action: CacheAction::ForceCacheOnly,
        ..SourceConfig::default()
    };
    if options.offline {
        return rattler_repodata_gateway::ChannelConfig {
            default: cache_only,
            ..Default::default()
        };
    }
    let mut config = rattler_repodata_gateway::ChannelConfig::default();
    let Some(cutoff) = options.exclude_newer.filter(|_| !refresh) else {
        return config;
    };
    let since = u64::try_from(cutoff.as_second())
        .unwrap_or(0)
        .saturating_add(CUTOFF_MARGIN);
    let downloaded = cached_subdirs(cache_dir);
    for channel in &options.channels {
        if !matches!(channel.base_url.url().scheme(), "http" | "https") {
            continue;
        }
        let subdirs = options.platforms.iter().copied().chain([Subdir::NoArch]);
        let after_cutoff = subdirs.into_iter().all(|subdir| {
            downloaded
                .get(channel.platform_url(subdir).as_str())
                .is_some_and(|&at| at >= since)
        });
        if after_cutoff {
            // The plain repodata.json that was checked, not a sharded index.
            let source = SourceConfig {
                sharded_enabled: false,
                ..cache_only.clone()
            };
            config
                .per_channel
                .insert(Url::from(channel.base_url.url().clone()), source);
        }
    }
    config
}

/// Per subdir URL (with its trailing `/`), when its cached `repodata.json` was downloaded, in
/// seconds since the epoch: from the gateway's `<key>.info.json` records whose `<key>.json`
/// is still the file they describe (size and modification time).
fn cached_subdirs(cache_dir: &Path) -> HashMap<String, u64> {
    #[derive(serde::Deserialize)]
    struct Info {
        url: Url,
        mtime_ns: Option<u64>,
        size: Option<u64>,
    }
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir(cache_dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(key) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".info.json"))
        else {
            continue;
        };
        let Some(info) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Info>(&b).ok())
        else {
            continue;
        };
        let (Some(mtime_ns), Some(size)) = (info.mtime_ns, info.size) else {
            continue;
        };
        let Ok(json) = std::fs::metadata(cache_dir.join(format!("{key}.json"))) else {
            continue;
        };
        let modified = json
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos());
        if json.len() != size || modified != Some(u128::from(mtime_ns)) {
            continue;
        }
        let mut subdir = info.url.clone();
        let Some(name) = info.url.path_segments().and_then(|mut s| s.next_back()) else {
            continue;
        };
        if !matches!(
            name,
            "repodata.json" | "repodata.json.zst" | "repodata.json.bz2"
        ) {
            continue;
        }
        if let Ok(mut segments) = subdir.path_segments_mut() {
            segments.pop().push("");
        }
        out.insert(subdir.to_string(), mtime_ns / 1_000_000_000);
    }
    out
}

/// The URL a cached `repodata.json` that is not JSON was downloaded from, from its
/// `<key>.info.json` record.
fn unparsable_cached_repodata(cache_dir: &Path) -> Option<Url> {
    #[derive(serde::Deserialize)]
    struct Info {
        url: Url,
    }
    let entries = std::fs::read_dir(cache_dir).ok()?;
    entries.flatten().find_map(|entry| {
        let path = entry.path();
        let key = path.file_name()?.to_str()?.strip_suffix(".info.json")?;
        let info: Info = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        let json = std::fs::File::open(cache_dir.join(format!("{key}.json"))).ok()?;
        let mut reader = serde_json::Deserializer::from_reader(std::io::BufReader::new(json));
        let parses = serde::de::IgnoredAny::deserialize(&mut reader).is_ok();
        (!parses).then_some(info.url)
    })
}

/// What one platform's solve needs.
struct PlatformTask {
    platform: Subdir,
    channels: Vec<Channel>,
    specs: Vec<MatchSpec>,
    optional: Vec<MatchSpec>,
    virtual_packages: Vec<GenericVirtualPackage>,
    exclude_newer: Option<Timestamp>,
    preferred: HashSet<String>,
}

/// The solution for one target platform.
#[derive(Debug)]
pub struct PlatformSolution {
    /// The target platform.
    pub platform: Subdir,
    /// The virtual packages it was solved against.
    pub virtual_packages: Vec<GenericVirtualPackage>,
    /// Sorted by package name.
    pub records: Vec<RepoDataRecord>,
    /// The optional specs ([`SolveOptions::optional`]) left out, each with why.
    pub dropped: Vec<(MatchSpec, String)>,
}

/// Solves `specs` for every platform. Platforms run concurrently: each fetches its repodata
/// through the shared gateway (noarch is fetched once), then solves on a blocking thread.
/// `reporter` hears of each platform's progress and, through the gateway, of downloads.
pub async fn solve(
    gateway: &Gateway,
    specs: &[MatchSpec],
    options: &SolveOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<Vec<PlatformSolution>> {
    let downloads = reporter.downloads().map(RedactingReporter);
    let tasks: Vec<_> = options
        .platforms
        .iter()
        .map(|&platform| {
            let optional = options.optional.get(&platform).cloned().unwrap_or_default();
            let mut query = gateway
                .query(
                    options.channels.iter().cloned(),
                    [platform, Subdir::NoArch],
                    specs.iter().chain(&optional).cloned(),
                )
                .recursive(true);
            if let Some(r) = &downloads {
                query = query.with_reporter(r.clone());
            }
            reporter.platform_started(platform);
            let task = PlatformTask {
                platform,
                channels: options.channels.clone(),
                specs: specs.to_vec(),
                optional,
                virtual_packages: options
                    .virtual_packages
                    .iter()
                    .find(|(p, _)| *p == platform)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| virtual_packages(platform, &[])),
                exclude_newer: options.exclude_newer,
                preferred: options
                    .preferred
                    .get(&platform)
                    .cloned()
                    .unwrap_or_default(),
            };
            let reporter = reporter.clone();
            let gateway = gateway.clone();
            let offline = options.offline;
            let cache_dir = options.cache_dir.clone();
            tokio::spawn(async move {
                let result = async {
                    let output = query
                        .execute()
                        .await
                        .map_err(|e| repodata_error(e, platform, offline, &cache_dir))?;
                    no_matching_version(&gateway, &task, &output).await?;
                    reporter.platform_solving(platform);
                    tokio::task::spawn_blocking(move || solve_platform(task, &output))
                        .await
                        .context("solver thread failed")?
                }
                .await;
                reporter.platform_done(platform, result.as_ref().ok().map(|s| s.records.len()));
                result
            })
        })
        .collect();
    let mut solutions = Vec::new();
    for task in tasks {
        solutions.push(task.await.context("platform task failed")??);
    }
    Ok(solutions)
}

/// What a solve tells about its progress. Every method has an empty default, so `()` reports
/// nothing; the command line draws spinners and download bars from it.
pub trait Reporter: Send + Sync {
    /// `platform` started fetching its repodata.
    fn platform_started(&self, _platform: Subdir) {}
    /// `platform`'s repodata is in; the solver runs.
    fn platform_solving(&self, _platform: Subdir) {}
    /// `platform` is done: the number of packages solved, or `None` when it failed.
    fn platform_done(&self, _platform: Subdir, _packages: Option<usize>) {}
    /// Where the repodata gateway reports downloads. The URLs it is given are redacted first:
    /// the gateway's own reporter would print them with user info and tokens.
    fn downloads(&self) -> Option<Arc<dyn rattler_repodata_gateway::Reporter>> {
        None
    }
}

impl Reporter for () {}

/// The gateway's download reports, with credential-free URLs.
#[derive(Clone)]
struct RedactingReporter(Arc<dyn rattler_repodata_gateway::Reporter>);

impl rattler_repodata_gateway::Reporter for RedactingReporter {
    fn download_reporter(&self) -> Option<&dyn rattler_repodata_gateway::DownloadReporter> {
        self.0.download_reporter().map(|_| self as _)
    }
}

impl rattler_repodata_gateway::DownloadReporter for RedactingReporter {
    fn on_download_start(&self, url: &Url) -> usize {
        self.0
            .download_reporter()
            .map_or(0, |r| r.on_download_start(&redact::url(url)))
    }

    fn on_download_progress(&self, url: &Url, index: usize, done: usize, total: Option<usize>) {
        if let Some(r) = self.0.download_reporter() {
            r.on_download_progress(&redact::url(url), index, done, total);
        }
    }

    fn on_download_complete(&self, url: &Url, index: usize) {
        if let Some(r) = self.0.download_reporter() {
            r.on_download_complete(&redact::url(url), index);
        }
    }
}

fn repodata_error(
    error: rattler_repodata_gateway::GatewayError,
    platform: Subdir,
    offline: bool,
    cache_dir: &Path,
) -> anyhow::Error {
    let not_found = matches!(
        error,
        rattler_repodata_gateway::GatewayError::SubdirNotFoundError(_)
    );
    // The gateway's messages name the URL; make sure no credentials ride along.
    let mut message = format!("{error}");
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    // Except "failed to parse repodata.json" (a proxy's or portal's page in its place): the
    // file is in the cache, under the URL it came from.
    if !message.contains("://")
        && let Some(url) = unparsable_cached_repodata(cache_dir)
    {
        message.push_str(&format!(" (downloaded from {url})"));
    }
    // A sharded index that answered 5xx was passed over for repodata.json; when that is not
    // there either, the 5xx is the news.
    if not_found {
        for turned in crate::net::shards::turned_away() {
            message.push_str(&format!("; before that, {turned}"));
        }
    }
    Failure::new(format!(
        "could not load repodata for {platform}: {}",
        redact::text(&message)
    ))
    .hint(if offline {
        "--offline uses only cached repodata: run the resolve once without it"
    } else {
        "check the channel URL and your network; `--channel-alias` and `--mirror` point channels at another host"
    })
    .into()
}
fn solve_platform(task: PlatformTask, repodata: &RepoDataQueryOutput) -> Result<PlatformSolution> {
    let PlatformTask {
        platform,
        channels,
        specs,
        optional,
        virtual_packages,
        exclude_newer,
        preferred,
    } = task;
    check_names_exist(platform, &channels, repodata, &specs, &virtual_packages)?;
    // An optional spec is tried only when some channel has a hash-checkable record for it.
    let mut dropped = Vec::new();
    let mut tried = Vec::new();
    for spec in optional {
        let offered = repodata.iter().flat_map(|r| r.iter()).any(|r| {
            spec.matches(&r.package_record)
                && r.package_record.sha256.is_some()
                && r.package_record.md5.is_some()
        });
        if offered {
            tried.push(spec);
        } else {
            let searched: Vec<String> = channels
                .iter()
                .map(|c| redact::url_text(c.base_url.as_str().trim_end_matches('/')))
                .collect();
            dropped.push((
                spec,
                format!(
                    "no channel offers a hash-checkable package of it: {}",
                    searched.join(", ")
                ),
            ));
        }
    }
    let locked_packages: Vec<&RepoDataRecord> = repodata
        .iter()
        .flat_map(|r| r.iter())
        .filter(|r| preferred.contains(redact::url(&r.url).as_str()))
        .collect();

    // A lock promises hash-checked installs, so records the repodata gives no sha256 or md5 for
    // are never chosen. They stay visible to the solver so that an error can say why.
    let reason: Arc<str> =
        Arc::from("its repodata has no sha256 or md5, so it cannot be hash-checked");
    let excluded_candidates: HashMap<Url, Arc<str>> = repodata
        .iter()
        .flat_map(|r| r.iter())
        .filter(|r| r.package_record.sha256.is_none() || r.package_record.md5.is_none())
        .map(|r| (r.url.clone(), reason.clone()))
        .collect();

    let task = |specs: Vec<MatchSpec>| SolverTask {
        specs,
        virtual_packages: virtual_packages.clone(),
        channel_priority: ChannelPriority::Strict,
        strategy: SolveStrategy::Highest,
        exclude_newer: exclude_newer.map(|ts| {
            ExcludeNewer::from_datetime(ts).with_timestamp_policy(TimestampPolicy::AllowMissing)
        }),
        excluded_candidates: excluded_candidates.clone(),
        locked_packages: locked_packages.clone(),
        ..SolverTask::from_iter(repodata.iter())
    };
    let mut result =
        rattler_solve::resolvo::Solver.solve(task([specs.clone(), tried.clone()].concat()));
    if matches!(result, Err(SolveError::Unsolvable(_))) && !tried.is_empty() {
        // Without the optional specs, the solve stands or falls on the inputs alone.
        result = rattler_solve::resolvo::Solver.solve(task(specs.clone()));
        if result.is_ok() {
            for spec in tried {
                dropped.push((
                    spec,
                    if exclude_newer.is_some() {
                        "it cannot be installed with the other packages, or is newer than \
                         --exclude-newer"
                            .to_string()
                    } else {
                        "it cannot be installed with the other packages".to_string()
                    },
                ));
            }
        }
    }
    let mut records = match result {
        Ok(result) => result.records,
        Err(SolveError::Unsolvable(reasons)) => {
            let specs: Vec<String> = specs.iter().map(|s| format!("`{s}`")).collect();
            return Err(Failure::new(format!(
                "the conda dependencies cannot be satisfied for {platform}: {}\n\n{}",
                specs.join(", "),
                reasons.join("\n").trim_end()
            ))
            .hint("relax the version constraints named above, or drop this platform with `--platform`")
            .into());
        }
        Err(e) => return Err(Failure::new(format!("solving for {platform} failed: {e}")).into()),
    };
    records.sort_by(|a, b| a.package_record.name.cmp(&b.package_record.name));
    Ok(PlatformSolution {
        platform,
        virtual_packages,
        records,
        dropped,
    })
}

/// The query only returns records that match the specs, so a package that exists but has no
/// version matching its spec (`python=3.9`) looks absent. For such a spec this asks the channels
/// for the name alone and, when they have it, fails saying which versions there are.
async fn no_matching_version(
    gateway: &Gateway,
    task: &PlatformTask,
    repodata: &RepoDataQueryOutput,
) -> Result<()> {
    for spec in &task.specs {
        let Some(name) = spec.name.as_exact() else {
            continue;
        };
        if name.as_normalized().starts_with("__")
            || repodata
                .iter()
                .flat_map(|r| r.iter())
                .any(|r| &r.package_record.name == name)
        {
            continue;
        }
        let Ok(all) = gateway
            .query(
                task.channels.iter().cloned(),
                [task.platform, Subdir::NoArch],
                [MatchSpec::from(name.clone())],
            )
            .execute()
            .await
        else {
            continue;
        };
        let mut versions: Vec<_> = all
            .iter()
            .flat_map(|r| r.iter())
            .filter(|r| &r.package_record.name == name)
            .map(|r| r.package_record.version.version().clone())
            .collect();
        if versions.is_empty() {
            continue;
        }
        versions.sort();
        versions.dedup();
        let shown: Vec<String> = if versions.len() <= 8 {
            versions.iter().map(|v| v.to_string()).collect()
        } else {
            let mut shown: Vec<String> = versions[..3].iter().map(|v| v.to_string()).collect();
            shown.push("…".into());
            shown.extend(versions[versions.len() - 5..].iter().map(|v| v.to_string()));
            shown
        };
        let searched: Vec<String> = task
            .channels
            .iter()
            .map(|c| redact::url_text(c.base_url.as_str().trim_end_matches('/')))
            .collect();
        return Err(Failure::new(format!(
            "no version of `{}` matches `{spec}` in {} for {} (nor noarch); it has {}",
            name.as_source(),
            searched.join(", "),
            task.platform,
            shown.join(", ")
        ))
        .hint("pick one of those versions, or relax the constraint")
        .into());
    }
    Ok(())
}

/// Fails early, and clearly, when a requested package exists in none of the channels for this
/// platform: the solver would otherwise say only "no candidates".
fn check_names_exist(
    platform: Subdir,
    channels: &[Channel],
    repodata: &RepoDataQueryOutput,
    specs: &[MatchSpec],
    virtual_packages: &[GenericVirtualPackage],
) -> Result<()> {
    for spec in specs {
        let Some(name) = spec.name.as_exact() else {
            continue;
        };
        if name.as_normalized().starts_with("__") {
            if !virtual_packages.iter().any(|v| &v.name == name) {
                fail!(
                    "`{spec}` needs the virtual package {} which is not set for {platform}",
                    name.as_normalized()
                );
            }
            continue;
        }
        let found = repodata
            .iter()
            .flat_map(|r| r.iter())
            .any(|r| &r.package_record.name == name);
        if !found {
            let searched: Vec<String> = channels
                .iter()
                .map(|c| redact::url_text(c.base_url.as_str().trim_end_matches('/')))
                .collect();
            return Err(Failure::new(format!(
                "no package named `{}` in {} for {platform} (nor noarch)",
                name.as_source(),
                searched.join(", ")
            ))
            .hint("check the spelling, add the channel that has it, or drop this platform with `--platform`")
            .into());
        }
    }
    Ok(())
}
