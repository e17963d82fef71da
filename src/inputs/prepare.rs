//! `prepare`: input files and options → [`Prepared`], the normalized question a lock answers.
//! `resolve` solves it; `check` compares a lock with it.
//!
//! Each option is taken from, in order: its flag, the inputs (`platforms:`, a requirements
//! file's `--index-url`, ...), the options the existing lock [`Recorded`], and the default. So
//! `envlock check` (the CI gate) and a re-run of `envlock resolve` answer the question the lock
//! was made for without repeating its flags; [`Prepared::recorded`] says which recorded options
//! were used.

use std::path::{Path, PathBuf};

use anyhow::Result;
use jiff::Timestamp;
use rattler_conda_types::{
    GenericVirtualPackage, MatchSpec, NamedChannelOrUrl, ParseStrictness, Subdir,
};
use url::Url;

use super::{
    CondaDependency, InputKind, Inputs, Selection,
    channels::{ChannelSettings, DEFAULT_CHANNEL_ALIAS},
    target::{DEFAULT_PLATFORMS, virtual_packages},
};
use crate::util::{
    error::{Failure, fail},
    redact,
};

/// The package index pip requirements come from unless `-i`/`--index-url` says otherwise.
pub fn default_index() -> Url {
    Url::parse("https://pypi.org/simple/").expect("valid constant")
}

/// How a project is looked up across several package indexes (`--index-strategy`, uv's names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum IndexStrategy {
    /// The first index that has the project is the only one used for it (uv's and envlock's
    /// default): a name published on PyPI cannot replace a private package of an extra index
    /// (dependency confusion).
    #[default]
    FirstIndex,
    /// Every index's versions of a project are candidates and the best one wins; for a version
    /// several indexes have, the first index's files are used (pip's behaviour, and uv's
    /// `unsafe-best-match`). Unsafe: anyone who can publish on a later index can shadow a
    /// private package with a higher version.
    UnsafeBestMatch,
}

impl IndexStrategy {
    /// The name `--index-strategy` takes and the lock records.
    pub fn as_str(self) -> &'static str {
        match self {
            IndexStrategy::FirstIndex => "first-index",
            IndexStrategy::UnsafeBestMatch => "unsafe-best-match",
        }
    }

    /// One of the [`IndexStrategy::as_str`] names (`first-index`, `unsafe-best-match`); the
    /// error lists them.
    pub fn parse(text: &str) -> Result<IndexStrategy, String> {
        use clap::ValueEnum;
        let all = IndexStrategy::value_variants();
        all.iter()
            .copied()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<String> = all.iter().map(|s| format!("`{}`", s.as_str())).collect();
                format!(
                    "unknown index strategy `{}`: use {}",
                    text.escape_debug(),
                    names.join(" or ")
                )
            })
    }

    /// The strategy as the lock and the fingerprints record it: only when it is not the default,
    /// so that locks made before the option existed keep their fingerprints.
    pub fn recorded(self) -> Option<&'static str> {
        (self != IndexStrategy::FirstIndex).then(|| self.as_str())
    }
}

/// `--index-strategy`'s values: the [`IndexStrategy::as_str`] names, the ones the lock records
/// and [`IndexStrategy::parse`] reads.
impl clap::ValueEnum for IndexStrategy {
    fn value_variants<'a>() -> &'a [Self] {
        &[IndexStrategy::FirstIndex, IndexStrategy::UnsafeBestMatch]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

/// What the command line says about the inputs and the options that decide a lock: shared by
/// `resolve` and `check`.
#[derive(Debug, Clone)]
pub struct InputOptions {
    /// Input files; empty means `./environment.yml`, else `./requirements.txt`.
    pub files: Vec<PathBuf>,
    /// `--lockfile`; `None` means `conda-lock.yml` beside the first input.
    pub lockfile: Option<PathBuf>,
    /// `--platform`s; empty means the files' `platforms:`, else the recorded platforms, else
    /// [`DEFAULT_PLATFORMS`].
    pub platforms: Vec<Subdir>,
    /// `--channel`s, added after the files' channels.
    pub channels: Vec<String>,
    /// `--channel-alias`; `None` means the recorded alias, else [`DEFAULT_CHANNEL_ALIAS`].
    ///
    /// [`DEFAULT_CHANNEL_ALIAS`]: super::channels::DEFAULT_CHANNEL_ALIAS
    pub channel_alias: Option<Url>,
    /// `--mirror CHANNEL=MIRROR` values.
    pub mirrors: Vec<String>,
    /// `--virtual-package` overrides of the table; empty means the recorded sets, else the table.
    pub virtual_packages: Vec<GenericVirtualPackage>,
    /// `--exclude-newer`; `None` means the recorded cutoff, if any.
    pub exclude_newer: Option<Timestamp>,
    /// `X.Y` for the python that pip requirements are resolved against, when the inputs do not
    /// ask for one.
    pub python: Option<String>,
    /// Overrides the requirements files' `--index-url` (which override the recorded one).
    pub index_url: Option<Url>,
    /// `--extra-index-url`s, after the files' own; when neither names one, the recorded extra
    /// indexes are used.
    pub extra_index_urls: Vec<Url>,
    /// `--index-strategy`; `None` means the recorded strategy, else [`IndexStrategy::FirstIndex`].
    pub index_strategy: Option<IndexStrategy>,
    /// `--pypi-mapping`.
    pub pypi_mapping: Option<PathBuf>,
    /// `--extra`, `--all-extras` and `--group` for a pyproject.toml input; when empty, the
    /// recorded selection.
    pub selection: Selection,
    /// `--no-init` (`Some(false)`): add no tini for the image's init; `None` means the recorded
    /// choice, else add it.
    pub init: Option<bool>,
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
            channel_alias: None,
            mirrors: vec![],
            virtual_packages: vec![],
            exclude_newer: None,
            python: None,
            index_url: None,
            extra_index_urls: vec![],
            index_strategy: None,
            pypi_mapping: None,
            selection: Selection::default(),
            init: None,
        }
    }
}

/// The inputs of a resolve, normalized: what `resolve` solves and `check` compares a lock with.
#[derive(Clone)]
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
    /// How a project is looked up across `indexes`.
    pub index_strategy: IndexStrategy,
    /// The virtual packages each platform is solved for, in the order of `platforms`: the table
    /// with the `--virtual-package` overrides, else the recorded set, else the table.
    pub virtual_packages: Vec<(Subdir, Vec<GenericVirtualPackage>)>,
    /// The `--exclude-newer` cutoff, given or recorded.
    pub exclude_newer: Option<Timestamp>,
    /// `--pypi-mapping`.
    pub pypi_mapping: Option<PathBuf>,
    /// The recorded options that were used, each as the flag that gives it
    /// (`--exclude-newer 2024-05-01T23:59:59.999999999Z`), without credentials; only those that
    /// differ from the defaults.
    pub recorded: Vec<String>,
    /// Whether `resolve` adds tini to every Linux platform's solve when the inputs do not name
    /// it, for the image's init (`false`: `--no-init`, given or recorded).
    pub init: bool,
}

/// The options an existing lock was made with, read from it by the caller (the lock is
/// untrusted input: a pull request can carry it). They are the defaults for what neither a flag
/// nor the inputs say. Recorded URLs carry no credentials.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// The lock's platforms.
    pub platforms: Vec<Subdir>,
    /// The lock's channels, for inputs that name none (a requirements file).
    pub channels: Vec<NamedChannelOrUrl>,
    /// The channel alias.
    pub channel_alias: Option<Url>,
    /// The `--exclude-newer` cutoff.
    pub exclude_newer: Option<Timestamp>,
    /// Per platform, the virtual packages solved for.
    pub virtual_packages: Vec<(Subdir, Vec<GenericVirtualPackage>)>,
    /// The package indexes, `--index-url` first; empty when none are recorded.
    pub indexes: Vec<Url>,
    /// The index strategy, when the lock records one (only a non-default one is recorded).
    pub index_strategy: Option<IndexStrategy>,
    /// The extras and groups a pyproject.toml input was locked with.
    pub selection: Option<Selection>,
    /// `Some(false)` when the lock was made with `--no-init`.
    pub init: Option<bool>,
}

impl Prepared {
    /// The virtual packages `platform` is solved for.
    pub fn virtual_packages_for(&self, platform: Subdir) -> Vec<GenericVirtualPackage> {
        self.virtual_packages
            .iter()
            .find(|(p, _)| *p == platform)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| virtual_packages(platform, &[]))
    }
}

/// Reads the inputs and applies the options, as `resolve` does before it solves, with no
/// recorded options.
pub fn prepare(request: &InputOptions) -> Result<Prepared> {
    prepare_with(request, |_| Ok(None))
}

/// [`prepare`], with the options `recorded` reads from the lockfile (given its path) as the
/// defaults for what the flags and the inputs leave open.
pub fn prepare_with(
    request: &InputOptions,
    recorded: impl FnOnce(&Path) -> Result<Option<Recorded>>,
) -> Result<Prepared> {
    let inputs = if request.files.is_empty() {
        super::default_inputs(Path::new("."))?
    } else {
        request.files.clone()
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
    let record = recorded(&lockfile)?.unwrap_or_default();
    let mut used = Vec::new();

    let has_pyproject = inputs.iter().any(|i| {
        matches!(
            InputKind::of(i),
            InputKind::Pyproject | InputKind::Unsupported(_)
        )
    });
    // The recorded selection is for a pyproject.toml input; without one it does not apply.
    let selection = match (&record.selection, request.selection.is_empty()) {
        (Some(recorded), true) if !recorded.is_empty() && has_pyproject => {
            used.extend(recorded.extras.iter().map(|e| format!("--extra {e}")));
            if recorded.all_extras {
                used.push("--all-extras".to_string());
            }
            used.extend(recorded.groups.iter().map(|g| format!("--group {g}")));
            recorded.clone()
        }
        _ => request.selection.clone(),
    };
    if !selection.is_empty() && !has_pyproject {
        return Err(Failure::new(
            "--extra, --all-extras and --group select from a pyproject.toml input, and none is \
             given",
        )
        .hint(
            "pass the pyproject.toml (`envlock resolve pyproject.toml --extra NAME`); for a \
             requirements line, write the extras on it (`-e .[NAME]`)",
        )
        .into());
    }
    let mut spec = Inputs::load_with(&inputs, &selection)?;

    for channel in &request.channels {
        let parsed: NamedChannelOrUrl =
            channel
                .parse()
                .map_err(|e: <NamedChannelOrUrl as std::str::FromStr>::Err| {
                    Failure::new(format!(
                        "invalid --channel `{}`: {}",
                        redact::url_text(channel),
                        redact::url_text(&e.to_string())
                    ))
                })?;
        if !spec.channels.contains(&parsed) {
            spec.channels.push(parsed);
        }
    }
    let pip_only = inputs
        .iter()
        .all(|i| InputKind::of(i) != InputKind::EnvironmentYaml);
    if pip_only && spec.channels.is_empty() {
        if record.channels.is_empty() {
            // A requirements.txt project still needs a python; conda-forge is where it comes
            // from.
            spec.channels
                .push(NamedChannelOrUrl::Name("conda-forge".to_string()));
        } else {
            for channel in &record.channels {
                used.push(format!("--channel {}", redact::url_text(channel.as_str())));
            }
            spec.channels.clone_from(&record.channels);
        }
    }
    if spec.channels.iter().all(|c| c.as_str() == "nodefaults") {
        return Err(
            Failure::new(format!("{} lists no channels", inputs[0].display()))
                .hint("add `channels: [conda-forge]` to the file, or pass `--channel conda-forge`")
                .into(),
        );
    }
    apply_requires_python(&mut spec, request.python.as_deref())?;
    let no_pip = spec.pypi.requirements.is_empty() && spec.local_projects.is_empty();
    if !no_pip || (pip_only && spec.conda.is_empty()) {
        // A requirements file that lists nothing (all comments, or every line removed) still
        // locks, as pip-compile and uv lock it: an environment of python alone.
        if no_pip {
            spec.warnings.push(format!(
                "{} lists no requirements: the lock holds python and pip alone",
                inputs[0].display()
            ));
        }
        add_python_and_pip(&mut spec, request.python.as_deref(), &inputs[0])?;
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
    } else if !record.platforms.is_empty() {
        if record.platforms != DEFAULT_PLATFORMS {
            used.extend(record.platforms.iter().map(|p| format!("-p {p}")));
        }
        record.platforms.clone()
    } else {
        DEFAULT_PLATFORMS.to_vec()
    };

    let default_alias = Url::parse(DEFAULT_CHANNEL_ALIAS).expect("valid constant");
    let alias = match (&request.channel_alias, &record.channel_alias) {
        (Some(given), _) => given.clone(),
        (None, Some(recorded)) => {
            if *recorded != default_alias {
                used.push(format!("--channel-alias {}", redact::url(recorded)));
            }
            recorded.clone()
        }
        (None, None) => default_alias,
    };
    let mut settings = ChannelSettings {
        alias,
        mirrors: vec![],
        root_dir: std::path::absolute(&input_dir).unwrap_or(input_dir.clone()),
    };
    for mirror in &request.mirrors {
        settings.add_mirror(mirror)?;
    }
    let channels = settings.resolve(&spec.channels)?;

    let virtual_packages = platforms
        .iter()
        .map(|&platform| {
            let table = virtual_packages(platform, &request.virtual_packages);
            if !request.virtual_packages.is_empty() {
                return (platform, table);
            }
            let Some((_, set)) = record.virtual_packages.iter().find(|(p, _)| *p == platform)
            else {
                return (platform, table);
            };
            for v in set.iter().filter(|v| !table.contains(v)) {
                let flag = format!("--virtual-package {}", virtual_package_flag(v));
                if !used.contains(&flag) {
                    used.push(flag);
                }
            }
            (platform, set.clone())
        })
        .collect();

    let exclude_newer = request.exclude_newer.or_else(|| {
        let cutoff = record.exclude_newer?;
        used.push(format!("--exclude-newer {cutoff}"));
        Some(cutoff)
    });

    let pip = !spec.pypi.requirements.is_empty();
    let index_url = match (&request.index_url, &spec.pypi.options.index_url) {
        (Some(url), _) | (None, Some(url)) => url.clone(),
        (None, None) => match record.indexes.first() {
            Some(url) => {
                if pip && *url != default_index() {
                    used.push(format!("--index-url {}", redact::url(url)));
                }
                url.clone()
            }
            None => default_index(),
        },
    };
    let mut extra: Vec<&Url> = spec
        .pypi
        .options
        .extra_index_urls
        .iter()
        .chain(&request.extra_index_urls)
        .collect();
    if extra.is_empty() {
        for url in record.indexes.iter().skip(1) {
            if pip {
                used.push(format!("--extra-index-url {}", redact::url(url)));
            }
            extra.push(url);
        }
    }
    let index_strategy = match (request.index_strategy, record.index_strategy) {
        (Some(strategy), _) => strategy,
        (None, Some(strategy)) => {
            if pip && strategy != IndexStrategy::default() {
                used.push(format!("--index-strategy {}", strategy.as_str()));
            }
            strategy
        }
        (None, None) => IndexStrategy::default(),
    };
    let init = request.init.unwrap_or_else(|| {
        let recorded = record.init.unwrap_or(true);
        if !recorded {
            used.push("--no-init".to_string());
        }
        recorded
    });
    let mut indexes: Vec<Url> = vec![index_url];
    for url in extra {
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
        index_strategy,
        virtual_packages,
        exclude_newer,
        pypi_mapping: request.pypi_mapping.clone(),
        recorded: used,
        init,
    })
}

/// `v` as `--virtual-package` takes it: `__glibc=2.17`, `__archspec=1=x86_64`.
fn virtual_package_flag(v: &GenericVirtualPackage) -> String {
    match v.build_string.as_str() {
        "0" => format!("{}={}", v.name.as_normalized(), v.version),
        build => format!("{}={}={build}", v.name.as_normalized(), v.version),
    }
}

/// A local project's `requires-python`: with `--python`, the version must satisfy it; without,
/// and when no conda input names python, it becomes the conda python constraint.
fn apply_requires_python(spec: &mut Inputs, python: Option<&str>) -> Result<()> {
    use std::str::FromStr;
    let Some((text, location, name)) = spec.local_projects.iter().find_map(|p| {
        p.requires_python
            .as_ref()
            .map(|(t, l)| (t.clone(), l.clone(), p.name.clone()))
    }) else {
        return Ok(());
    };
    let specifiers = pep440_rs::VersionSpecifiers::from_str(&text).map_err(|e| {
        Failure::new(format!(
            "{location}: `requires-python = \"{text}\"` is not a PEP 440 version range: {e}"
        ))
        .hint("write a range such as `>=3.10`")
        .at(&location.file, None, location.line, location.column)
    })?;
    if let Some(python) = python {
        let version = pep440_rs::Version::from_str(python)
            .map_err(|e| Failure::new(format!("invalid --python `{python}`: {e}")))?;
        // `--python 3.11` is any 3.11.z: it satisfies `>=3.11.4` (3.11.7 does) as well as
        // `<3.11.2`, so both ends of the minor release are tried.
        let last_patch = pep440_rs::Version::from_str(&format!("{python}.999")).ok();
        let fits =
            specifiers.contains(&version) || last_patch.is_some_and(|v| specifiers.contains(&v));
        if !fits {
            return Err(Failure::new(format!(
                "--python {python} does not satisfy `{name}`'s `requires-python = \"{text}\"` \
                 ({location})"
            ))
            .hint("pass a --python in the project's range, or widen `requires-python`")
            .into());
        }
        return Ok(());
    }
    let names_python = spec.conda.iter().any(|d| {
        d.spec
            .name
            .as_exact()
            .is_some_and(|n| n.as_normalized() == "python")
    });
    if names_python {
        return Ok(());
    }
    let conda: Vec<String> = specifiers.iter().map(conda_version_spec).collect();
    let text = format!("python {}", conda.join(","));
    let parsed = MatchSpec::from_str(&text, ParseStrictness::Lenient).map_err(|e| {
        Failure::new(format!(
            "{location}: `requires-python` has no conda equivalent (`{text}`): {e}"
        ))
    })?;
    spec.conda.push(CondaDependency {
        spec: parsed,
        location,
    });
    Ok(())
}

/// One PEP 440 specifier as a conda version constraint.
fn conda_version_spec(s: &pep440_rs::VersionSpecifier) -> String {
    use pep440_rs::Operator;
    let v = s.version();
    match s.operator() {
        Operator::Equal | Operator::ExactEqual => format!("=={v}"),
        Operator::EqualStar => format!("{v}.*"),
        Operator::NotEqual => format!("!={v}"),
        Operator::NotEqualStar => format!("!={v}.*"),
        Operator::TildeEqual => format!("~={v}"),
        Operator::LessThan => format!("<{v}"),
        Operator::LessThanEqual => format!("<={v}"),
        Operator::GreaterThan => format!(">{v}"),
        Operator::GreaterThanEqual => format!(">={v}"),
    }
}

/// pip requirements need a python and pip from conda: add them when the inputs do not. They
/// are recorded as coming from the first requirement, else from the top of `input`.
fn add_python_and_pip(spec: &mut Inputs, python: Option<&str>, input: &Path) -> Result<()> {
    let location = spec
        .pypi
        .requirements
        .first()
        .map(|r| r.location.clone())
        .or_else(|| spec.local_projects.first().map(|p| p.location.clone()))
        .unwrap_or_else(|| crate::inputs::Location {
            file: input.to_path_buf(),
            line: 1,
            column: 1,
        });
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
    if !python_spec.is_empty() {
        let parsed = MatchSpec::from_str(&python_spec, ParseStrictness::Lenient)
            .map_err(|e| Failure::new(format!("invalid --python `{python_spec}`: {e}")))?;
        spec.conda.push(CondaDependency {
            spec: parsed,
            location: location.clone(),
        });
    }
    if !has(spec, "pip") {
        spec.conda.push(
            pip_from_requirements(spec).unwrap_or_else(|| CondaDependency {
                spec: MatchSpec::from_str("pip", ParseStrictness::Lenient)
                    .expect("`pip` is a match spec"),
                location,
            }),
        );
    }
    Ok(())
}

/// The conda spec of the pip that envlock adds, when the pip requirements or constraints
/// limit `pip` (`pip==24.2` in a `pip freeze --all` output): pip is the conda env's own, so
/// the limit goes into the conda solve instead of failing against whichever pip it picked.
/// Recorded at the first line that limits it. Lines with a marker are left to the PyPI stage,
/// which says when conda's pip does not satisfy them.
fn pip_from_requirements(spec: &Inputs) -> Option<CondaDependency> {
    let lines: Vec<_> = spec
        .pypi
        .requirements
        .iter()
        .chain(&spec.pypi.constraints)
        .filter(|r| r.requirement.name.as_ref() == "pip" && r.requirement.marker.is_true())
        .filter_map(|r| match &r.requirement.version_or_url {
            Some(pep508_rs::VersionOrUrl::VersionSpecifier(s)) if !s.is_empty() => {
                Some((s, &r.location))
            }
            _ => None,
        })
        .collect();
    let location = lines.first()?.1.clone();
    let conda: Vec<String> = lines
        .iter()
        .flat_map(|(s, _)| s.iter().map(conda_version_spec))
        .collect();
    let parsed = MatchSpec::from_str(
        &format!("pip {}", conda.join(",")),
        ParseStrictness::Lenient,
    )
    .ok()?;
    Some(CondaDependency {
        spec: parsed,
        location,
    })
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn the_index_strategy_names_are_one_list() {
        // What `--index-strategy` accepts is what the lock records and reads back.
        let names: Vec<String> = IndexStrategy::value_variants()
            .iter()
            .map(|s| {
                let name = s.to_possible_value().unwrap().get_name().to_string();
                assert_eq!(name, s.as_str());
                assert_eq!(IndexStrategy::parse(&name), Ok(*s));
                assert_eq!(IndexStrategy::from_str(&name, false), Ok(*s));
                name
            })
            .collect();
        assert_eq!(names, ["first-index", "unsafe-best-match"]);
        assert_eq!(
            IndexStrategy::parse("best").unwrap_err(),
            "unknown index strategy `best`: use `first-index` or `unsafe-best-match`"
        );
    }
}
