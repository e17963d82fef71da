//! Conda solving: channels → repodata → one resolvo solve per target platform.
//!
//! Supported: `https://`, `http://` and `file://` channels through rattler's repodata gateway
//! (sharded repodata and `.zst` when a channel serves them, plain `repodata.json` otherwise; an
//! on-disk HTTP cache with revalidation), channel names resolved through a configurable channel
//! alias, mirrors that are fetched from while the lock keeps canonical URLs, strict channel
//! priority, highest versions, `--exclude-newer`, and virtual packages from a fixed table that
//! never reads the host (see [`virtual_packages`]).
//!
//! Not supported: conda's `custom_channels`/`custom_multichannels` settings, flexible channel
//! priority, and `__cuda` unless it is given explicitly.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::Arc,
};

use anyhow::{Context, Result};
use jiff::Timestamp;
use rattler_conda_types::{
    Channel, ChannelConfig, GenericVirtualPackage, MatchSpec, NamedChannelOrUrl, PackageName,
    RepoDataRecord, Subdir, Version,
};
use rattler_networking::{LazyClient, MirrorMiddleware, mirror_middleware::Mirror};
use rattler_repodata_gateway::{Gateway, RepoDataQueryOutput};
use rattler_solve::{
    ChannelPriority, ExcludeNewer, SolveError, SolveStrategy, SolverImpl, SolverTask,
    TimestampPolicy,
};
use rattler_virtual_packages::VirtualPackages;
use url::Url;

use crate::error::{Failure, fail};

/// conda's own channel alias: `conda-forge` means `https://conda.anaconda.org/conda-forge`.
pub const DEFAULT_CHANNEL_ALIAS: &str = "https://conda.anaconda.org";

/// What conda's `defaults` stands for on Linux and macOS (conda's `default_channels`).
const DEFAULT_CHANNELS: [&str; 2] = [
    "https://repo.anaconda.com/pkgs/main",
    "https://repo.anaconda.com/pkgs/r",
];

/// How channel names become URLs, and where they are really fetched from.
#[derive(Debug, Clone)]
pub struct ChannelSettings {
    /// Prefix for channel names (conda's `channel_alias`).
    pub alias: Url,
    /// `(canonical prefix, mirror prefix)`: requests under the first are sent to the second.
    pub mirrors: Vec<(Url, Url)>,
    /// Base for relative channel paths: the directory of the input file.
    pub root_dir: PathBuf,
}

impl ChannelSettings {
    fn config(&self) -> ChannelConfig {
        // `https://host/prefix/` and `https://host/prefix` are the same alias; without this the
        // first would give `https://host/prefix//conda-forge`.
        let mut alias = self.alias.clone();
        if let Ok(mut segments) = alias.path_segments_mut() {
            segments.pop_if_empty();
        }
        ChannelConfig {
            channel_alias: alias,
            root_dir: self.root_dir.clone(),
        }
    }

    /// Resolves the spec's channels, in priority order, to their canonical URLs.
    pub fn resolve(&self, channels: &[NamedChannelOrUrl]) -> Result<Vec<Channel>> {
        let config = self.config();
        let mut resolved: Vec<Channel> = Vec::new();
        for channel in channels {
            let expanded: Vec<NamedChannelOrUrl> = if channel.as_str() == "defaults" {
                DEFAULT_CHANNELS
                    .iter()
                    .map(|u| NamedChannelOrUrl::Url(Url::parse(u).expect("valid constant")))
                    .collect()
            } else {
                vec![channel.clone()]
            };
            for channel in expanded {
                let shown = redact(channel.as_str());
                let channel = channel
                    .into_channel(&config)
                    .map_err(|e| Failure::new(format!("invalid channel `{shown}`: {e}")))?;
                if !resolved.iter().any(|c| c.base_url == channel.base_url) {
                    resolved.push(channel);
                }
            }
        }
        Ok(resolved)
    }

    /// Parses `--mirror CHANNEL=MIRROR`, where CHANNEL is a URL or a channel name.
    pub fn add_mirror(&mut self, arg: &str) -> Result<()> {
        let Some((from, to)) = arg.split_once('=') else {
            fail!(
                "invalid --mirror `{}`: expected CHANNEL_URL=MIRROR_URL",
                redact(arg)
            );
        };
        let from: NamedChannelOrUrl = from.parse().map_err(|e| {
            Failure::new(format!("invalid --mirror channel `{}`: {e}", redact(from)))
        })?;
        let from = from
            .into_base_url(&self.config())
            .map_err(|e| Failure::new(format!("invalid --mirror channel: {e}")))?;
        let to = Url::parse(to)
            .map_err(|e| Failure::new(format!("invalid --mirror URL `{}`: {e}", redact(to))))?;
        self.mirrors
            .push((with_slash(Url::from(from)), with_slash(to)));
        Ok(())
    }

    /// Wraps `client` so that requests for mirrored channels go to their mirror.
    pub fn client(&self, client: reqwest::Client) -> LazyClient {
        let mut builder = reqwest_middleware::ClientBuilder::new(client).with(crate::http::Retry);
        if !self.mirrors.is_empty() {
            let map: HashMap<Url, Vec<Mirror>> = self
                .mirrors
                .iter()
                .map(|(from, to)| {
                    let mirror = Mirror {
                        url: to.clone(),
                        no_zstd: false,
                        no_bz2: false,
                        max_failures: None,
                    };
                    (from.clone(), vec![mirror])
                })
                .collect();
            builder = builder.with(MirrorMiddleware::from_map(map));
        }
        builder.build().into()
    }
}

fn with_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// Removes credentials from a URL: user info and conda's `/t/<token>/` path segment.
/// Lockfiles, rendered files and messages only ever contain URLs that went through here.
pub fn strip_credentials(url: &Url) -> Url {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    // conda tokens sit right after the host: https://host/t/<token>/channel
    let segments: Vec<String> = url
        .path_segments()
        .map(|s| s.map(str::to_string).collect())
        .unwrap_or_default();
    if segments.len() > 2 && segments[0] == "t" {
        url.set_path(&segments[2..].join("/"));
    }
    url
}

/// [`strip_credentials`] for strings that may or may not be URLs.
pub fn redact(text: &str) -> String {
    match Url::parse(text) {
        Ok(url) if url.has_host() => {
            let stripped = strip_credentials(&url).to_string();
            // Keep the user's spelling (e.g. no added trailing slash) when there was nothing to strip.
            if stripped == url.as_str() {
                text.to_string()
            } else {
                stripped
            }
        }
        _ => text.to_string(),
    }
}

/// The virtual packages assumed for a target platform.
///
/// These come from rattler's per-platform baseline, pinned to the values a Docker image or a
/// CI machine can be expected to have, and never from the machine running envlock, so a lock
/// made on a laptop equals one made in CI:
///
/// | platform | virtual packages |
/// |---|---|
/// | linux-* | `__unix`, `__linux=4.18`, `__glibc=2.17`, `__archspec=1=<arch>` |
/// | osx-64 | `__unix`, `__osx=10.13`, `__archspec=1=x86_64` |
/// | osx-arm64 | `__unix`, `__osx=11.0`, `__archspec=1=m1` |
/// | win-* | `__win=10.0`, `__archspec=1=<arch>` |
///
/// No `__cuda` unless given with `--virtual-package __cuda=12.4`. `overrides` replace or add
/// entries by name.
pub fn virtual_packages(
    platform: Subdir,
    overrides: &[GenericVirtualPackage],
) -> Vec<GenericVirtualPackage> {
    let mut baseline = VirtualPackages::baseline_for_platform(platform);
    if let Some(libc) = baseline.libc.as_mut() {
        libc.version = "2.17".parse().expect("valid version");
    }
    if let Some(osx) = baseline.osx.as_mut() {
        osx.version = match platform {
            Subdir::Osx64 => "10.13".parse().expect("valid version"),
            _ => "11.0".parse().expect("valid version"),
        };
    }
    let mut packages: Vec<GenericVirtualPackage> =
        baseline.into_generic_virtual_packages().collect();
    for o in overrides {
        match packages.iter_mut().find(|p| p.name == o.name) {
            Some(p) => *p = o.clone(),
            None => packages.push(o.clone()),
        }
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    packages
}

/// Parses `--virtual-package NAME=VERSION[=BUILD]`.
pub fn parse_virtual_package(arg: &str) -> Result<GenericVirtualPackage> {
    let mut parts = arg.splitn(3, '=');
    let name = parts.next().unwrap_or_default();
    let hint = "write it as NAME=VERSION, e.g. `--virtual-package __glibc=2.28` or `__cuda=12.4`";
    if !name.starts_with("__") {
        return Err(Failure::new(format!(
            "invalid --virtual-package `{arg}`: virtual package names start with `__`"
        ))
        .hint(hint)
        .into());
    }
    let Some(version) = parts.next() else {
        return Err(
            Failure::new(format!("invalid --virtual-package `{arg}`: no version"))
                .hint(hint)
                .into(),
        );
    };
    let name = PackageName::try_from(name)
        .map_err(|e| Failure::new(format!("invalid --virtual-package `{arg}`: {e}")))?;
    let version: Version = version
        .parse()
        .map_err(|e| Failure::new(format!("invalid --virtual-package `{arg}`: {e}")).hint(hint))?;
    let build =
        parts.next().unwrap_or("0").parse().map_err(|e| {
            Failure::new(format!("invalid --virtual-package `{arg}`: {e}")).hint(hint)
        })?;
    Ok(GenericVirtualPackage {
        name,
        version,
        build_string: build,
    })
}

/// Parses `--exclude-newer`: an RFC 3339 timestamp, or a date meaning the end of that day in
/// UTC, so that `2024-06-01` keeps what was published on June 1st (uv reads a date the same way).
/// Anything published later than the result is ignored.
pub fn parse_exclude_newer(arg: &str) -> Result<Timestamp> {
    if let Ok(ts) = arg.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(ts) = arg.parse::<jiff::civil::Date>().and_then(|date| {
        date.at(23, 59, 59, 999_999_999)
            .to_zoned(jiff::tz::TimeZone::UTC)
    }) {
        return Ok(ts.timestamp());
    }
    Err(Failure::new(format!("invalid --exclude-newer `{arg}`"))
        .hint("give a date (2024-05-01, meaning up to the end of that day, UTC) or an RFC 3339 time (2024-05-01T12:00:00Z)")
        .into())
}

/// Everything one solve needs besides the specs.
pub struct SolveOptions {
    pub channels: Vec<Channel>,
    pub platforms: Vec<Subdir>,
    pub virtual_package_overrides: Vec<GenericVirtualPackage>,
    pub exclude_newer: Option<Timestamp>,
    /// Per platform, the URLs of records to keep when they still fit (an existing lock's): the
    /// solver prefers them over newer versions, so re-resolving does not churn.
    pub preferred: HashMap<Subdir, HashSet<String>>,
}

/// What one platform's solve needs.
struct PlatformTask {
    platform: Subdir,
    channels: Vec<Channel>,
    specs: Vec<MatchSpec>,
    virtual_packages: Vec<GenericVirtualPackage>,
    exclude_newer: Option<Timestamp>,
    preferred: HashSet<String>,
}

/// The solution for one target platform.
#[derive(Debug)]
pub struct PlatformSolution {
    pub platform: Subdir,
    pub virtual_packages: Vec<GenericVirtualPackage>,
    /// Sorted by package name.
    pub records: Vec<RepoDataRecord>,
}

/// Solves `specs` for every platform. Platforms run concurrently: each fetches its repodata
/// through the shared gateway (noarch is fetched once), then solves on a blocking thread.
/// With `progress`, each platform gets a spinner and downloads get byte counters.
pub async fn solve(
    gateway: &Gateway,
    specs: &[MatchSpec],
    options: &SolveOptions,
    progress: Option<&indicatif::MultiProgress>,
) -> Result<Vec<PlatformSolution>> {
    let reporter = progress.map(|mp| {
        RedactingReporter(
            rattler_repodata_gateway::IndicatifReporter::builder()
                .with_multi_progress(mp.clone())
                .clear_when_done(true)
                .finish(),
        )
    });
    let tasks: Vec<_> = options
        .platforms
        .iter()
        .map(|&platform| {
            let mut query = gateway
                .query(
                    options.channels.iter().cloned(),
                    [platform, Subdir::NoArch],
                    specs.iter().cloned(),
                )
                .recursive(true);
            if let Some(r) = &reporter {
                query = query.with_reporter(r.clone());
            }
            let spinner = progress.map(|mp| platform_spinner(mp, platform));
            let task = PlatformTask {
                platform,
                channels: options.channels.clone(),
                specs: specs.to_vec(),
                virtual_packages: virtual_packages(platform, &options.virtual_package_overrides),
                exclude_newer: options.exclude_newer,
                preferred: options
                    .preferred
                    .get(&platform)
                    .cloned()
                    .unwrap_or_default(),
            };
            tokio::spawn(async move {
                let result = async {
                    let output = query
                        .execute()
                        .await
                        .map_err(|e| repodata_error(e, platform))?;
                    if let Some(s) = &spinner {
                        s.set_message("solving");
                    }
                    tokio::task::spawn_blocking(move || solve_platform(task, &output))
                        .await
                        .context("solver thread failed")?
                }
                .await;
                if let Some(s) = spinner {
                    match &result {
                        Ok(solution) => {
                            s.finish_with_message(format!("{} packages", solution.records.len()))
                        }
                        Err(_) => s.finish_and_clear(),
                    }
                }
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

/// The gateway's download bars, shown with credential-free URLs: its own reporter prints
/// the URL as requested, user info and tokens included.
#[derive(Clone)]
struct RedactingReporter(rattler_repodata_gateway::IndicatifReporter);

impl rattler_repodata_gateway::Reporter for RedactingReporter {
    fn download_reporter(&self) -> Option<&dyn rattler_repodata_gateway::DownloadReporter> {
        Some(self)
    }
}

impl rattler_repodata_gateway::DownloadReporter for RedactingReporter {
    fn on_download_start(&self, url: &Url) -> usize {
        self.0.on_download_start(&strip_credentials(url))
    }

    fn on_download_progress(&self, url: &Url, index: usize, done: usize, total: Option<usize>) {
        self.0
            .on_download_progress(&strip_credentials(url), index, done, total);
    }

    fn on_download_complete(&self, url: &Url, index: usize) {
        self.0.on_download_complete(&strip_credentials(url), index);
    }
}

fn platform_spinner(mp: &indicatif::MultiProgress, platform: Subdir) -> indicatif::ProgressBar {
    let spinner = mp.add(indicatif::ProgressBar::new_spinner());
    spinner.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {prefix:<14} {msg}")
            .expect("valid template"),
    );
    spinner.set_prefix(platform.to_string());
    spinner.set_message("fetching repodata");
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    spinner
}

fn repodata_error(
    error: rattler_repodata_gateway::GatewayError,
    platform: Subdir,
) -> anyhow::Error {
    // The gateway's messages name the URL; make sure no credentials ride along.
    let mut message = format!("{error}");
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    Failure::new(format!(
        "could not load repodata for {platform}: {}",
        redact_all(&message)
    ))
    .hint("check the channel URL and your network; `--channel-alias` and `--mirror` point channels at another host")
    .into()
}

/// Redacts every URL-looking word in a message (or a requirement such as `x @ https://…`).
pub fn redact_all(message: &str) -> String {
    message
        .split(' ')
        .map(|w| {
            if w.contains("://") {
                let trimmed = w.trim_matches(|c: char| {
                    c == '"' || c == '\'' || c == '(' || c == ')' || c == ','
                });
                w.replace(trimmed, &redact(trimmed))
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn solve_platform(task: PlatformTask, repodata: &RepoDataQueryOutput) -> Result<PlatformSolution> {
    let PlatformTask {
        platform,
        channels,
        specs,
        virtual_packages,
        exclude_newer,
        preferred,
    } = task;
    check_names_exist(platform, &channels, repodata, &specs, &virtual_packages)?;
    let locked_packages = repodata
        .iter()
        .flat_map(|r| r.iter())
        .filter(|r| preferred.contains(strip_credentials(&r.url).as_str()))
        .collect();

    // A lock promises hash-checked installs, so records the repodata gives no sha256 or md5 for
    // are never chosen. They stay visible to the solver so that an error can say why.
    let reason: Arc<str> =
        Arc::from("its repodata has no sha256 or md5, so it cannot be hash-checked");
    let excluded_candidates = repodata
        .iter()
        .flat_map(|r| r.iter())
        .filter(|r| r.package_record.sha256.is_none() || r.package_record.md5.is_none())
        .map(|r| (r.url.clone(), reason.clone()))
        .collect();

    let task = SolverTask {
        specs: specs.clone(),
        virtual_packages: virtual_packages.clone(),
        channel_priority: ChannelPriority::Strict,
        strategy: SolveStrategy::Highest,
        exclude_newer: exclude_newer.map(|ts| {
            ExcludeNewer::from_datetime(ts).with_timestamp_policy(TimestampPolicy::AllowMissing)
        }),
        excluded_candidates,
        locked_packages,
        ..SolverTask::from_iter(repodata.iter())
    };
    let mut records = match rattler_solve::resolvo::Solver.solve(task) {
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
    })
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
                .map(|c| redact(c.base_url.as_str().trim_end_matches('/')))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(platform: Subdir) -> Vec<String> {
        virtual_packages(platform, &[])
            .iter()
            .map(|v| v.to_string())
            .collect()
    }

    #[test]
    fn virtual_package_table_is_fixed() {
        assert_eq!(
            names(Subdir::Linux64),
            [
                "__archspec=1=x86_64",
                "__glibc=2.17=0",
                "__linux=4.18=0",
                "__unix=0=0"
            ]
        );
        assert_eq!(
            names(Subdir::OsxArm64),
            ["__archspec=1=m1", "__osx=11.0=0", "__unix=0=0"]
        );
        assert!(names(Subdir::Osx64).contains(&"__osx=10.13=0".to_string()));
        assert!(names(Subdir::Win64).iter().any(|n| n.starts_with("__win=")));
        assert!(
            !names(Subdir::Linux64)
                .iter()
                .any(|n| n.starts_with("__cuda"))
        );
    }

    #[test]
    fn overrides_replace_and_add() {
        let o = [
            parse_virtual_package("__glibc=2.28").unwrap(),
            parse_virtual_package("__cuda=12.4").unwrap(),
        ];
        let v: Vec<String> = virtual_packages(Subdir::Linux64, &o)
            .iter()
            .map(|v| v.to_string())
            .collect();
        assert!(v.contains(&"__glibc=2.28=0".to_string()), "{v:?}");
        assert!(v.contains(&"__cuda=12.4=0".to_string()), "{v:?}");
        assert!(!v.contains(&"__glibc=2.17=0".to_string()), "{v:?}");
        assert!(parse_virtual_package("glibc=2.28").is_err());
        assert!(parse_virtual_package("__glibc").is_err());
    }

    #[test]
    fn channel_names_go_through_the_alias() {
        let settings = ChannelSettings {
            alias: Url::parse("http://127.0.0.1:9/mirror/").unwrap(),
            mirrors: vec![],
            root_dir: PathBuf::from("/"),
        };
        let channels = settings
            .resolve(
                &[
                    "conda-forge".parse().unwrap(),
                    "nodefaults".parse().unwrap(),
                ][..1],
            )
            .unwrap();
        assert_eq!(
            channels[0].base_url.as_str(),
            "http://127.0.0.1:9/mirror/conda-forge/"
        );
        let defaults = settings.resolve(&["defaults".parse().unwrap()]).unwrap();
        assert_eq!(defaults.len(), 2);
        assert!(
            defaults[0]
                .base_url
                .as_str()
                .starts_with("https://repo.anaconda.com/pkgs/main")
        );
    }

    #[test]
    fn credentials_are_stripped() {
        let url =
            Url::parse("https://user:secret@host/t/tk-123/conda-forge/linux-64/a.conda").unwrap();
        assert_eq!(
            strip_credentials(&url).as_str(),
            "https://host/conda-forge/linux-64/a.conda"
        );
        assert_eq!(redact("conda-forge"), "conda-forge");
        assert_eq!(redact("https://u:p@h/c"), "https://h/c");
        assert_eq!(
            redact_all("error sending request for url (https://u:p@h/c/repodata.json)"),
            "error sending request for url (https://h/c/repodata.json)"
        );
    }

    #[test]
    fn exclude_newer_accepts_dates_and_times() {
        assert_eq!(
            parse_exclude_newer("2024-05-01").unwrap().to_string(),
            "2024-05-01T23:59:59.999999999Z"
        );
        assert_eq!(
            parse_exclude_newer("2024-05-01T12:30:00Z")
                .unwrap()
                .to_string(),
            "2024-05-01T12:30:00Z"
        );
        assert!(parse_exclude_newer("yesterday").is_err());
    }
}
