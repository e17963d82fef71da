//! `prepare`: input files and options → [`Prepared`], the normalized question a lock answers.
//! `resolve` solves it; `check` compares a lock with it.

use std::path::{Path, PathBuf};

use anyhow::Result;
use jiff::Timestamp;
use rattler_conda_types::{
    GenericVirtualPackage, MatchSpec, NamedChannelOrUrl, ParseStrictness, Subdir,
};
use url::Url;

use super::{
    CondaDependency, InputKind, Inputs, channels::ChannelSettings, target::DEFAULT_PLATFORMS,
};
use crate::util::{
    error::{Failure, fail},
    redact,
};

/// The package index pip requirements come from unless `-i`/`--index-url` says otherwise.
pub fn default_index() -> Url {
    Url::parse("https://pypi.org/simple/").expect("valid constant")
}

/// What the command line says about the inputs and the options that decide a lock: shared by
/// `resolve` and `check`.
#[derive(Debug, Clone)]
pub struct InputOptions {
    /// Input files; empty means `./environment.yml`, else `./requirements.txt`.
    pub files: Vec<PathBuf>,
    /// `--lockfile`; `None` means `conda-lock.yml` beside the first input.
    pub lockfile: Option<PathBuf>,
    /// `--platform`s; empty means the files' `platforms:`, else [`DEFAULT_PLATFORMS`].
    pub platforms: Vec<Subdir>,
    /// `--channel`s, added after the files' channels.
    pub channels: Vec<String>,
    /// `--channel-alias`.
    pub channel_alias: Url,
    /// `--mirror CHANNEL=MIRROR` values.
    pub mirrors: Vec<String>,
    /// `--virtual-package` overrides.
    pub virtual_packages: Vec<GenericVirtualPackage>,
    /// `--exclude-newer`.
    pub exclude_newer: Option<Timestamp>,
    /// `X.Y` for the python that pip requirements are resolved against, when the inputs do not
    /// ask for one.
    pub python: Option<String>,
    /// Overrides the requirements files' `--index-url`.
    pub index_url: Option<Url>,
    /// `--extra-index-url`s, after the files' own.
    pub extra_index_urls: Vec<Url>,
    /// `--pypi-mapping`.
    pub pypi_mapping: Option<PathBuf>,
}

impl Prepared {
    /// The indexes in the order a project is looked up, uv's: the extra indexes first, in the
    /// order given, then the `--index-url`. The first index that has a project is the only one
    /// used for it, so an extra index (a private one, PyTorch's) is not shadowed by PyPI, and a
    /// name on PyPI cannot replace a private package (dependency confusion).
    pub fn index_priority(&self) -> Vec<Url> {
        let mut order: Vec<Url> = self.indexes.iter().skip(1).cloned().collect();
        order.extend(self.indexes.first().cloned());
        order
    }
}

impl Default for InputOptions {
    /// The inputs found in the working directory, with every option at its default.
    fn default() -> Self {
        InputOptions {
            files: vec![],
            lockfile: None,
            platforms: vec![],
            channels: vec![],
            channel_alias: Url::parse(super::channels::DEFAULT_CHANNEL_ALIAS)
                .expect("valid constant"),
            mirrors: vec![],
            virtual_packages: vec![],
            exclude_newer: None,
            python: None,
            index_url: None,
            extra_index_urls: vec![],
            pypi_mapping: None,
        }
    }
}

/// The inputs of a resolve, normalized: what `resolve` solves and `check` compares a lock with.
pub struct Prepared {
    /// The input files, as given or found.
    pub files: Vec<PathBuf>,
    /// What the files say, with `--channel` and the implied python and pip added.
    pub inputs: Inputs,
    /// The platforms to lock.
    pub platforms: Vec<Subdir>,
    /// How channel names become URLs, and mirrors.
    pub settings: ChannelSettings,
    /// The channels in priority order, resolved to URLs.
    pub channels: Vec<rattler_conda_types::Channel>,
    /// Where the lockfile is (or goes).
    pub lockfile: PathBuf,
    /// Package indexes for pip requirements as given: the `--index-url` first, then the
    /// `--extra-index-url`s in order (the order the lock records; see
    /// [`Prepared::index_priority`] for the order they are searched in).
    pub indexes: Vec<Url>,
    /// `--virtual-package` overrides, applied to every platform.
    pub virtual_packages: Vec<GenericVirtualPackage>,
    /// `--exclude-newer`.
    pub exclude_newer: Option<Timestamp>,
    /// `--pypi-mapping`.
    pub pypi_mapping: Option<PathBuf>,
}

/// Reads the inputs and applies the options, as `resolve` does before it solves.
pub fn prepare(request: &InputOptions) -> Result<Prepared> {
    let inputs = if request.files.is_empty() {
        super::default_inputs(Path::new("."))?
    } else {
        request.files.clone()
    };
    let mut spec = Inputs::load(&inputs)?;
    for channel in &request.channels {
        let parsed: NamedChannelOrUrl = channel.parse().map_err(|e| {
            Failure::new(format!(
                "invalid --channel `{}`: {e}",
                redact::url_text(channel)
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
        files: inputs,
        inputs: spec,
        platforms,
        settings,
        channels,
        lockfile,
        indexes,
        virtual_packages: request.virtual_packages.clone(),
        exclude_newer: request.exclude_newer,
        pypi_mapping: request.pypi_mapping.clone(),
    })
}

/// pip requirements need a python and pip from conda: add them when the inputs do not.
fn add_python_and_pip(spec: &mut Inputs, python: Option<&str>) -> Result<()> {
    let location = spec.pypi.requirements[0].location.clone();
    let has = |spec: &Inputs, name: &str| {
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
