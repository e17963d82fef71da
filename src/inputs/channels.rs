//! Channels: names and URLs from the inputs → canonical channel URLs, and where they are
//! really fetched from.
//!
//! Channel names resolve through a configurable channel alias (conda's `channel_alias`);
//! `defaults` expands to conda's default channels; `--mirror` sends requests for a channel to
//! another host while the lock keeps the canonical URL.

use std::{collections::HashMap, path::PathBuf};

use anyhow::Result;
use rattler_conda_types::{Channel, ChannelConfig, NamedChannelOrUrl};
use rattler_networking::{LazyClient, MirrorMiddleware, mirror_middleware::Mirror};
use url::Url;

use crate::util::{
    error::{Failure, fail},
    redact,
};

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
    ///
    /// A channel URL with credentials (user info, `/t/<token>/`, a query) is returned without
    /// them, and a mirror from that URL to the one with credentials is added: the gateway, its
    /// cache (`*.info.json`, shards) and the lock only ever see the URL without the secret,
    /// while the requests still carry it ([`crate::net::Netrc`] turns user info into a header).
    pub fn resolve(&mut self, channels: &[NamedChannelOrUrl]) -> Result<Vec<Channel>> {
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
                let shown = redact::url_text(channel.as_str());
                let mut channel = channel.into_channel(&config).map_err(|e| {
                    Failure::new(format!(
                        "invalid channel `{shown}`: {}",
                        redact::url_text(&e.to_string())
                    ))
                })?;
                let with_secret: Url = channel.base_url.url().clone().into();
                let clean = redact::url(&with_secret);
                if clean != with_secret {
                    let clean = with_slash(clean);
                    if !self.mirrors.iter().any(|(from, _)| *from == clean) {
                        self.mirrors.push((clean.clone(), with_slash(with_secret)));
                    }
                    channel.base_url = clean.into();
                }
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
            // Not echoed: without the `=` there is no telling which part is a URL to redact.
            fail!("invalid --mirror value: expected CHANNEL_URL=MIRROR_URL (it has no `=`)");
        };
        let from: NamedChannelOrUrl =
            from.parse()
                .map_err(|e: <NamedChannelOrUrl as std::str::FromStr>::Err| {
                    Failure::new(format!(
                        "invalid --mirror channel `{}`: {}",
                        redact::url_text(from),
                        redact::url_text(&e.to_string())
                    ))
                })?;
        let from = from
            .into_base_url(&self.config())
            // rattler's error quotes the value: redacted as well.
            .map_err(|e| {
                Failure::new(format!(
                    "invalid --mirror channel: {}",
                    redact::url_text(&e.to_string())
                ))
            })?;
        let to = Url::parse(to).map_err(|e| {
            Failure::new(format!(
                "invalid --mirror URL `{}`: {e}",
                redact::url_text(to)
            ))
        })?;
        self.mirrors
            .push((with_slash(Url::from(from)), with_slash(to)));
        Ok(())
    }

    /// Wraps `client` so that requests for mirrored channels go to their mirror, with retries and
    /// netrc credentials.
    pub fn client(&self) -> Result<LazyClient> {
        let mut builder = crate::net::builder()?
            .with(crate::net::OptionalShards)
            .with(crate::net::Retry::STREAMING);
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
        // After the mirror, so that netrc credentials are those of the host actually asked.
        Ok(crate::net::finish(builder.with(crate::net::Netrc)).into())
    }
}

fn with_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_go_through_the_alias() {
        let mut settings = ChannelSettings {
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
    fn credentials_leave_the_channel_url_for_a_mirror() {
        let mut settings = ChannelSettings {
            alias: Url::parse("https://u:s3cret@conda.example/t/tk-123/").unwrap(),
            mirrors: vec![],
            root_dir: PathBuf::from("/"),
        };
        let channels = settings.resolve(&["conda-forge".parse().unwrap()]).unwrap();
        assert_eq!(
            channels[0].base_url.as_str(),
            "https://conda.example/conda-forge/"
        );
        assert_eq!(
            settings.mirrors,
            [(
                Url::parse("https://conda.example/conda-forge/").unwrap(),
                Url::parse("https://u:s3cret@conda.example/t/tk-123/conda-forge/").unwrap()
            )]
        );
    }
}
