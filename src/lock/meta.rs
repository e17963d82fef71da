//! envlock's own facts in the lock, as one typed record: [`EnvlockMeta`].
//!
//! In the file they are flat `envlock.*` keys of `metadata.custom_metadata` (other readers carry
//! them along and ignore them); [`EnvlockMeta::read`] and [`EnvlockMeta::write`] are the only code
//! that touches those keys, and the mapping is a frozen format: other tools read the keys, and
//! re-resolving unchanged inputs must give a byte-identical file.
//!
//! | key | field | value |
//! |---|---|---|
//! | `envlock.version` | `version` | the envlock version that wrote the file |
//! | `created_by` | `version` | `envlock <version>`, for conda's lockfile plugin (conda-lockfiles), which requires it |
//! | `envlock.channel_alias` | `channel_alias` | the alias channel names were resolved through |
//! | `envlock.exclude_newer` | `exclude_newer` | the `--exclude-newer` cutoff, RFC 3339 |
//! | `envlock.virtual_packages.<platform>` | `virtual_packages` | comma-separated |
//! | `envlock.pypi.indexes` | `pypi_indexes` | comma-separated, when there are pip requirements |
//! | `envlock.pypi.index_strategy` | `pypi_index_strategy` | `--index-strategy`, only when not the default |
//! | `envlock.pypi.extras` | `pypi_extras` | `name[extra]`, comma-separated, likewise |
//! | `envlock.packages_sha256.<platform>` | `packages_sha256` | rattler's hash of the platform's package entries |
//! | `envlock.options_sha256` | `options_sha256` | [`super::fingerprint::options_fingerprint`] |
//! | `envlock.pypi.build.<platform>` | `pypi_build` | per locked sdist, [`SdistBuildRecord`], as JSON |
//! | `envlock.pypi.git` | `pypi_git` | per git requirement, the URL as requested (its ref, not the commit), as a JSON map by package name |
//! | `envlock.local_projects` | `local_projects` | [`LocalProjectRecord`]s as a JSON list, when there are local projects |
//! | `envlock.init` | `init` | [`InitRecord`] as JSON: the init envlock added to the image's env, or `--no-init`; only when it says something |
//! | `envlock.docker.base` | `docker.base` | the base image the last `envlock dockerfile` pinned |
//! | `envlock.docker.flavor` | `docker.flavor` | the flavor that base is for |
//! | `envlock.docker.options` | `docker.options` | [`DockerOptions`] as JSON |

use std::collections::BTreeMap;

use anyhow::Result;
use jiff::Timestamp;
use rattler_conda_lock::LockFile;

pub use super::image::{Entrypoint, ExplicitHash, Flavor, Preset, Runtime};
use crate::{inputs::IndexStrategy, util::error::Failure};

const PREFIX: &str = "envlock.";
/// Not an `envlock.` key: the name conda-lock and conda-lockfiles read the writing tool from.
const CREATED_BY: &str = "created_by";
const VERSION: &str = "envlock.version";
const CHANNEL_ALIAS: &str = "envlock.channel_alias";
const EXCLUDE_NEWER: &str = "envlock.exclude_newer";
const VIRTUAL_PACKAGES: &str = "envlock.virtual_packages.";
const PYPI_INDEXES: &str = "envlock.pypi.indexes";
const PYPI_EXTRAS: &str = "envlock.pypi.extras";
const PYPI_BUILD: &str = "envlock.pypi.build.";
const PYPI_INDEX_STRATEGY: &str = "envlock.pypi.index_strategy";
const LOCAL_PROJECTS: &str = "envlock.local_projects";
const PYPI_GIT: &str = "envlock.pypi.git";
const INIT: &str = "envlock.init";
const PACKAGES_SHA256: &str = "envlock.packages_sha256.";
const OPTIONS_SHA256: &str = "envlock.options_sha256";
const DOCKER_PREFIX: &str = "envlock.docker.";
const DOCKER_BASE: &str = "envlock.docker.base";
const DOCKER_FLAVOR: &str = "envlock.docker.flavor";
const DOCKER_OPTIONS: &str = "envlock.docker.options";

/// envlock's facts about a lock. A lock written by another tool has none (`version` is `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvlockMeta {
    /// The envlock version that wrote the file; `None` for locks written by other tools.
    pub version: Option<String>,
    /// The channel alias channel names were resolved through, without credentials.
    pub channel_alias: Option<String>,
    /// The `--exclude-newer` cutoff.
    pub exclude_newer: Option<Timestamp>,
    /// Per platform, the virtual packages solved against (`__glibc=2.17=0`, ...).
    pub virtual_packages: BTreeMap<String, Vec<String>>,
    /// The package indexes pip packages were resolved from, without credentials; recorded only
    /// when there are pip requirements.
    pub pypi_indexes: Option<Vec<String>>,
    /// `--index-strategy`, recorded only when it is not the default (`first-index`) and there
    /// are pip requirements.
    pub pypi_index_strategy: Option<IndexStrategy>,
    /// The extras the pip requirements ask for (`name[extra]`, sorted): an extra added to or
    /// dropped from a requirement changes what is locked without changing any version
    /// constraint. Recorded only when there are pip requirements.
    pub pypi_extras: Option<Vec<String>>,
    /// Per platform, the sha256 of the platform's package entries (rattler's package-derived
    /// hash), so that hand edits to a lock are detected without the network.
    pub packages_sha256: BTreeMap<String, String>,
    /// A fingerprint of the resolution options: a re-resolve keeps the lock's pins only when it
    /// matches.
    pub options_sha256: Option<String>,
    /// What `envlock dockerfile` recorded; `resolve` carries it over.
    pub docker: Option<DockerMeta>,
    /// Per platform, what each locked sdist's build needs (by sdist name). Locks from before
    /// build sets have none: their sdists build with pip's build isolation.
    pub pypi_build: BTreeMap<String, BTreeMap<String, SdistBuildRecord>>,
    /// The local projects (a pyproject.toml input, `-e .`, `./pkg`), in input order: installed
    /// from their source after the locked packages, never from an index.
    pub local_projects: Vec<LocalProjectRecord>,
    /// The git requirements by package name: the URL as the inputs ask for it (`@v1.2`, a
    /// branch, or none), without credentials. The package entry holds the commit; `check`
    /// compares the inputs with this.
    pub pypi_git: BTreeMap<String, String>,
    /// What `resolve` did about the image's init (tini): the platforms it added tini to, those
    /// no channel offered it for, or `--no-init`. `None`: nothing added and no opt-out (the
    /// inputs name tini themselves, or a lock from before the record existed).
    pub init: Option<InitRecord>,
}

/// A recorded git requirement: a package name and a `git+` URL without credentials.
fn validate_git(name: &str, url: &str) -> Result<(), String> {
    use std::str::FromStr;
    pep508_rs::PackageName::from_str(name).map_err(|e| format!("`{name}`: {e}"))?;
    let parsed = url::Url::parse(url).map_err(|e| format!("`{name}`: {e}"))?;
    let git =
        crate::solve::pypi::git::GitUrl::parse(&parsed).map_err(|e| format!("`{name}`: {e}"))?;
    if git.requested() != url {
        return Err(format!(
            "`{name}`: `{url}` is not a git URL as envlock records it"
        ));
    }
    Ok(())
}

/// The init the conda image runs as PID 1, as `resolve` chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitChoice {
    /// tini, added to every Linux platform's solve when the inputs do not name it.
    Tini,
    /// `--no-init`: nothing added; the image runs its entrypoint script as PID 1.
    None,
}

/// The package `resolve` adds for the image's init.
pub const INIT_PACKAGE: &str = "tini";

/// What `resolve` did about the image's init. Serialized as JSON (a frozen format).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitRecord {
    /// tini, or `--no-init`.
    pub init: InitChoice,
    /// The platforms envlock added tini to (the inputs do not name it), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// The Linux platforms no channel offered a hash-checkable tini for, so none was added,
    /// sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
}

impl InitRecord {
    /// Whether envlock added tini to `platform`.
    pub fn added_to(record: Option<&InitRecord>, platform: &str) -> bool {
        record.is_some_and(|r| r.added.iter().any(|p| p == platform))
    }

    /// Whether the lock records `--no-init`.
    pub fn opted_out(record: Option<&InitRecord>) -> bool {
        record.is_some_and(|r| r.init == InitChoice::None)
    }

    /// Checks a record read from a lock: platforms that are Linux platforms of the lock, each
    /// once, in one list only, and none with `--no-init`.
    fn validate(&self, platforms: &[String]) -> Result<(), String> {
        if self.init == InitChoice::None && !(self.added.is_empty() && self.unavailable.is_empty())
        {
            return Err("`none` adds nothing, yet platforms are listed".to_string());
        }
        let mut seen = std::collections::BTreeSet::new();
        for platform in self.added.iter().chain(&self.unavailable) {
            if !platform.starts_with("linux-") || !platforms.contains(platform) {
                return Err(format!(
                    "`{}` is not a Linux platform of the lock",
                    platform.escape_debug()
                ));
            }
            if !seen.insert(platform) {
                return Err(format!("`{platform}` is listed twice"));
            }
        }
        Ok(())
    }
}

/// One local project as the lock records it. Serialized as JSON (a frozen format).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalProjectRecord {
    /// `[project] name`.
    pub name: String,
    /// `[project] version`, when static.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The project's directory relative to the lockfile's, `/`-separated and normalized (`.` for
    /// the lockfile's own directory); never outside it.
    pub path: String,
    /// The extras installed, normalized and sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<String>,
    /// `--all-extras` selected them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_extras: bool,
    /// The dependency groups locked with it (a pyproject.toml input's `--group`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Named with `-e`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub editable: bool,
    /// It is a pyproject.toml given as an input (not a requirements line).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub input: bool,
    /// [`crate::inputs::LocalProject::dependencies_sha256`].
    pub dependencies_sha256: String,
    /// [`crate::inputs::LocalProject::build_sha256`]: what its build needs, pinned in the build
    /// set. Absent in locks from before build backends were pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_sha256: Option<String>,
    /// Its dependencies came from its build backend's metadata hook (dynamic `dependencies`, or
    /// a setup.py / setup.cfg project). Absent (false) for static `[project]` metadata.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_backend: bool,
    /// With `from_backend`: the requirements the hook gave for the selected extras, in order;
    /// `check` takes them as the project's, since it runs no backend.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_requires: Vec<String>,
    /// With `from_backend`: the files the metadata is computed from
    /// ([`crate::inputs::pyproject::build_inputs`]), path relative to the project's directory
    /// → sha256; `check` reports drift when one changes, appears or goes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub build_inputs: BTreeMap<String, String>,
}

impl LocalProjectRecord {
    /// Checks a record read from a lock: a valid name, version and extras, a sha256, and a path
    /// that stays inside the lockfile's directory and is safe to write into a Dockerfile.
    fn validate(&self) -> Result<(), String> {
        use std::str::FromStr;
        let name = &self.name;
        pep508_rs::PackageName::from_str(name).map_err(|e| format!("`{name}`: {e}"))?;
        if let Some(version) = &self.version {
            pep440_rs::Version::from_str(version).map_err(|e| format!("`{name}` version: {e}"))?;
        }
        for extra in self.extras.iter().chain(&self.groups) {
            pep508_rs::ExtraName::from_str(extra)
                .map_err(|e| format!("`{name}` extra or group: {e}"))?;
        }
        if self.dependencies_sha256.len() != 64
            || !self
                .dependencies_sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit())
        {
            return Err(format!("`{name}`: `dependencies_sha256` is not a sha256"));
        }
        if let Some(build) = &self.build_sha256
            && (build.len() != 64 || !build.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(format!("`{name}`: `build_sha256` is not a sha256"));
        }
        if !self.from_backend
            && (!self.backend_requires.is_empty() || !self.build_inputs.is_empty())
        {
            return Err(format!(
                "`{name}`: `backend_requires` and `build_inputs` need `from_backend`"
            ));
        }
        if self.from_backend && self.build_inputs.is_empty() {
            return Err(format!("`{name}`: `from_backend` without `build_inputs`"));
        }
        if self.backend_requires.len() > crate::inputs::MAX_REQUIREMENTS {
            return Err(format!(
                "`{name}`: more than {} `backend_requires`",
                crate::inputs::MAX_REQUIREMENTS
            ));
        }
        for requirement in &self.backend_requires {
            // Named PEP 508 requirements only: never a pip option or a path.
            crate::util::pep508::parse::<url::Url>(requirement)
                .map_err(|e| format!("`{name}`: `{}`: {e}", requirement.escape_debug()))?;
        }
        for (path, sha256) in &self.build_inputs {
            check_local_path(path).map_err(|e| format!("`{name}` build input: {e}"))?;
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("`{name}`: the build input `{path}` has no sha256"));
            }
        }
        check_local_path(&self.path).map_err(|e| format!("`{name}` path: {e}"))
    }
}

/// A local project's path as the lock may hold it: `.` or `/`-separated names of letters,
/// digits, `.`, `_` and `-`, none of them `.` or `..`: relative, normalized, inside the
/// lockfile's directory.
pub fn check_local_path(path: &str) -> Result<(), String> {
    if path == "." {
        return Ok(());
    }
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(format!(
                "`{}` is not a normalized path inside the lockfile's directory",
                path.escape_debug()
            ));
        }
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(format!(
                "`{}` has characters other than letters, digits, `.`, `_`, `-` and `/`",
                path.escape_debug()
            ));
        }
    }
    Ok(())
}

/// What one locked sdist's build needs: the `category: build` pip packages of its platform it
/// installs before building, and whether it compiles. Serialized as JSON (a frozen format).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdistBuildRecord {
    /// The sdist's version.
    pub version: String,
    /// The build-set packages (names) its build needs; `None` when its build requirements
    /// could not be pinned, so the image builds it with pip's build isolation.
    pub requires: Option<Vec<String>>,
    /// Why its build requirements are not pinned, when they are not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpinned: Option<String>,
    /// Why its build needs a compiler, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiler: Option<String>,
}

impl SdistBuildRecord {
    /// Checks a record read from a lock: names and versions that parse, reasons that are one
    /// short printable line (they reach messages).
    fn validate(&self, name: &str) -> Result<(), String> {
        use std::str::FromStr;
        pep508_rs::PackageName::from_str(name).map_err(|e| format!("`{name}`: {e}"))?;
        pep440_rs::Version::from_str(&self.version)
            .map_err(|e| format!("`{name}` version: {e}"))?;
        for r in self.requires.iter().flatten() {
            pep508_rs::PackageName::from_str(r).map_err(|e| format!("`{name}` requires: {e}"))?;
        }
        for text in [&self.unpinned, &self.compiler].into_iter().flatten() {
            if text.len() > 1000 || text.chars().any(char::is_control) {
                return Err(format!("`{name}`: a reason is not one short line"));
            }
        }
        Ok(())
    }
}

/// What the last `envlock dockerfile` run recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerMeta {
    /// The base image it pinned, digest included.
    pub base: String,
    /// The flavor the base is for.
    pub flavor: Flavor,
    /// Its options, so `envlock check` can render what it rendered; `None` in locks from envlock
    /// versions that recorded only the base.
    pub options: Option<DockerOptions>,
}

/// Everything besides the lock that decides the rendered files. Serialized as JSON in the
/// field order below (a frozen format).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DockerOptions {
    /// The Dockerfile, relative to the lockfile's directory.
    pub output: String,
    /// The directory of the generated files, relative to the Dockerfile's.
    pub dir: String,
    /// How the environment gets into the image.
    pub flavor: Flavor,
    /// What the image runs.
    pub preset: Preset,
    /// `--cmd` as given, overriding the preset's.
    pub cmd: Option<String>,
    /// `--port`s, overriding the preset's.
    pub ports: Vec<u16>,
    /// `--run` steps, in order.
    pub run: Vec<String>,
    /// How the image starts its command.
    pub entrypoint: Entrypoint,
    /// Which hash the `@EXPLICIT` files carry.
    pub explicit_hash: ExplicitHash,
    /// `--editable`: local projects named with `-e` stay editable installs in the image.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub editable: bool,
    /// `--runtime`: omitted for the default (`single`), so locks from before render the same.
    #[serde(default, skip_serializing_if = "Runtime::is_single")]
    pub runtime: Runtime,
    /// The slim runtime's base, pinned (digest included); only with `runtime: slim`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_base: Option<String>,
}

/// A malformed value of `key`, which `command` writes.
fn malformed(key: &str, detail: impl std::fmt::Display, command: &str) -> anyhow::Error {
    Failure::new(format!("the lock's `{key}` is not valid: {detail}"))
        .hint(format!("run `{command}` to rewrite it"))
        .into()
}

/// `a,b,c` → `[a, b, c]`; the empty string is the empty list.
fn split(value: &str) -> Vec<String> {
    if value.is_empty() {
        Vec::new()
    } else {
        value.split(',').map(str::to_string).collect()
    }
}

impl EnvlockMeta {
    /// envlock's facts in `lock`. A value envlock could not have written is an error naming its
    /// key and the command that rewrites it.
    pub fn read(lock: &LockFile) -> Result<EnvlockMeta> {
        let empty = BTreeMap::new();
        let custom = lock.metadata.custom_metadata.as_ref().unwrap_or(&empty);
        let get = |key: &str| custom.get(key).cloned();
        let mut meta = EnvlockMeta {
            version: get(VERSION),
            channel_alias: get(CHANNEL_ALIAS),
            exclude_newer: get(EXCLUDE_NEWER)
                .map(|v| {
                    v.parse::<Timestamp>()
                        .map_err(|e| malformed(EXCLUDE_NEWER, e, "envlock resolve"))
                })
                .transpose()?,
            pypi_indexes: get(PYPI_INDEXES).map(|v| split(&v)),
            pypi_extras: get(PYPI_EXTRAS).map(|v| split(&v)),
            pypi_index_strategy: get(PYPI_INDEX_STRATEGY)
                .map(|v| {
                    IndexStrategy::parse(&v)
                        .map_err(|e| malformed(PYPI_INDEX_STRATEGY, e, "envlock resolve"))
                })
                .transpose()?,
            options_sha256: get(OPTIONS_SHA256),
            ..EnvlockMeta::default()
        };
        for (key, value) in custom {
            if let Some(platform) = key.strip_prefix(VIRTUAL_PACKAGES) {
                let packages = split(value);
                for p in &packages {
                    crate::inputs::target::parse_virtual_package(p)
                        .map_err(|e| malformed(key, e, "envlock resolve"))?;
                }
                meta.virtual_packages.insert(platform.to_string(), packages);
            } else if let Some(platform) = key.strip_prefix(PYPI_BUILD) {
                let records: BTreeMap<String, SdistBuildRecord> = serde_json::from_str(value)
                    .map_err(|e| malformed(key, e, "envlock resolve"))?;
                for (name, record) in &records {
                    record
                        .validate(name)
                        .map_err(|e| malformed(key, e, "envlock resolve"))?;
                }
                meta.pypi_build.insert(platform.to_string(), records);
            } else if let Some(platform) = key.strip_prefix(PACKAGES_SHA256) {
                meta.packages_sha256
                    .insert(platform.to_string(), value.clone());
            }
        }
        if let Some(json) = custom.get(LOCAL_PROJECTS) {
            let records: Vec<LocalProjectRecord> = serde_json::from_str(json)
                .map_err(|e| malformed(LOCAL_PROJECTS, e, "envlock resolve"))?;
            for record in &records {
                record
                    .validate()
                    .map_err(|e| malformed(LOCAL_PROJECTS, e, "envlock resolve"))?;
            }
            meta.local_projects = records;
        }
        if let Some(json) = custom.get(PYPI_GIT) {
            let records: BTreeMap<String, String> = serde_json::from_str(json)
                .map_err(|e| malformed(PYPI_GIT, e, "envlock resolve"))?;
            for (name, url) in &records {
                validate_git(name, url).map_err(|e| malformed(PYPI_GIT, e, "envlock resolve"))?;
            }
            meta.pypi_git = records;
        }
        if let Some(json) = custom.get(INIT) {
            let record: InitRecord =
                serde_json::from_str(json).map_err(|e| malformed(INIT, e, "envlock resolve"))?;
            record
                .validate(&lock.metadata.platforms)
                .map_err(|e| malformed(INIT, e, "envlock resolve"))?;
            meta.init = Some(record);
        }
        meta.docker = DockerMeta::read(custom)?;
        Ok(meta)
    }

    /// Writes the record onto `lock`'s `envlock.*` keys, replacing whatever envlock keys it had
    /// and keeping every other key.
    pub fn write(&self, lock: &mut LockFile) {
        let custom = lock
            .metadata
            .custom_metadata
            .get_or_insert_with(Default::default);
        custom.retain(|key, _| !key.starts_with(PREFIX));
        let mut put = |key: String, value: String| {
            custom.insert(key, value);
        };
        let some = |key: &str, value: &Option<String>, put: &mut dyn FnMut(String, String)| {
            if let Some(v) = value {
                put(key.to_string(), v.clone());
            }
        };
        some(VERSION, &self.version, &mut put);
        // conda's own lockfile plugin (conda-lockfiles, `conda create --file conda-lock.yml`)
        // refuses a conda-lock v1 file without it.
        if let Some(version) = &self.version {
            put(CREATED_BY.to_string(), format!("envlock {version}"));
        }
        some(CHANNEL_ALIAS, &self.channel_alias, &mut put);
        some(
            EXCLUDE_NEWER,
            &self.exclude_newer.map(|t| t.to_string()),
            &mut put,
        );
        for (platform, packages) in &self.virtual_packages {
            put(format!("{VIRTUAL_PACKAGES}{platform}"), packages.join(","));
        }
        some(
            PYPI_INDEXES,
            &self.pypi_indexes.as_ref().map(|v| v.join(",")),
            &mut put,
        );
        some(
            PYPI_INDEX_STRATEGY,
            &self.pypi_index_strategy.map(|s| s.as_str().to_string()),
            &mut put,
        );
        some(
            PYPI_EXTRAS,
            &self.pypi_extras.as_ref().map(|v| v.join(",")),
            &mut put,
        );
        for (platform, records) in &self.pypi_build {
            put(
                format!("{PYPI_BUILD}{platform}"),
                serde_json::to_string(records).expect("records serialize"),
            );
        }
        if !self.local_projects.is_empty() {
            put(
                LOCAL_PROJECTS.to_string(),
                serde_json::to_string(&self.local_projects).expect("records serialize"),
            );
        }
        if !self.pypi_git.is_empty() {
            put(
                PYPI_GIT.to_string(),
                serde_json::to_string(&self.pypi_git).expect("records serialize"),
            );
        }
        if let Some(init) = &self.init {
            put(
                INIT.to_string(),
                serde_json::to_string(init).expect("records serialize"),
            );
        }
        for (platform, sha256) in &self.packages_sha256 {
            put(format!("{PACKAGES_SHA256}{platform}"), sha256.clone());
        }
        some(OPTIONS_SHA256, &self.options_sha256, &mut put);
        if let Some(docker) = &self.docker {
            put(DOCKER_BASE.to_string(), docker.base.clone());
            put(DOCKER_FLAVOR.to_string(), kebab(&docker.flavor));
            if let Some(options) = &docker.options {
                put(
                    DOCKER_OPTIONS.to_string(),
                    serde_json::to_string(options).expect("options serialize"),
                );
            }
        }
        if custom.is_empty() {
            lock.metadata.custom_metadata = None;
        }
    }
}

/// A unit enum's serde name (`conda`, `conda-run`, ...).
fn kebab(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => unreachable!("a unit enum serializes as a string"),
    }
}

impl DockerMeta {
    fn read(custom: &BTreeMap<String, String>) -> Result<Option<DockerMeta>> {
        // `dockerfile --reset` rewrites these, whatever they hold.
        const FIX: &str = "envlock dockerfile --reset";
        if !custom.keys().any(|k| k.starts_with(DOCKER_PREFIX)) {
            return Ok(None);
        }
        let base = custom
            .get(DOCKER_BASE)
            .ok_or_else(|| malformed(DOCKER_BASE, "it is missing", FIX))?
            .clone();
        let flavor = custom
            .get(DOCKER_FLAVOR)
            .ok_or_else(|| malformed(DOCKER_FLAVOR, "it is missing", FIX))?;
        let flavor: Flavor = serde_json::from_value(serde_json::Value::String(flavor.clone()))
            .map_err(|e| malformed(DOCKER_FLAVOR, e, FIX))?;
        let options = custom
            .get(DOCKER_OPTIONS)
            .map(|json| serde_json::from_str(json).map_err(|e| malformed(DOCKER_OPTIONS, e, FIX)))
            .transpose()?;
        Ok(Some(DockerMeta {
            base,
            flavor,
            options,
        }))
    }

    /// Drops the recorded docker facts from `lock`, valid or not (for `dockerfile --reset`).
    pub fn forget(lock: &mut LockFile) {
        if let Some(custom) = lock.metadata.custom_metadata.as_mut() {
            custom.retain(|key, _| !key.starts_with(DOCKER_PREFIX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_with(entries: &[(&str, &str)]) -> LockFile {
        let mut lock = LockFile::default();
        lock.metadata.custom_metadata = Some(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        lock
    }

    #[test]
    fn the_record_maps_onto_the_same_keys_and_values() {
        let entries = [
            ("created_by", "envlock 0.1.0"),
            ("envlock.channel_alias", "http://envlock.invalid/channels"),
            (
                "envlock.docker.base",
                "condaforge/miniforge3:25.3.1-0@sha256:1e65",
            ),
            ("envlock.docker.flavor", "conda"),
            (
                "envlock.docker.options",
                r#"{"output":"Dockerfile","dir":"envlock","flavor":"conda","preset":"flask","cmd":"python -m webapp","ports":[8000],"run":["python -c 'import webapp'"],"entrypoint":"conda-run","explicit_hash":"md5"}"#,
            ),
            ("envlock.exclude_newer", "2030-01-01T23:59:59.999999999Z"),
            (
                "envlock.init",
                r#"{"init":"tini","added":["linux-64"],"unavailable":["linux-aarch64"]}"#,
            ),
            (
                "envlock.local_projects",
                r#"[{"name":"webapp","version":"1.0","path":".","extras":["fast"],"input":true,"dependencies_sha256":"0000000000000000000000000000000000000000000000000000000000000000"},{"name":"lib","path":"libs/lib-a","editable":true,"dependencies_sha256":"1111111111111111111111111111111111111111111111111111111111111111"}]"#,
            ),
            ("envlock.options_sha256", "e2fe"),
            ("envlock.packages_sha256.linux-64", "596d"),
            (
                "envlock.pypi.build.linux-64",
                r#"{"retrying":{"version":"1.3.3","requires":["setuptools","wheel"]},"x":{"version":"1","requires":null,"unpinned":"no wheel","compiler":"it has compiled sources (x.c)"}}"#,
            ),
            ("envlock.pypi.extras", "webapp[fast]"),
            ("envlock.pypi.index_strategy", "unsafe-best-match"),
            (
                "envlock.pypi.indexes",
                "http://a.invalid/simple/,http://b.invalid/simple/",
            ),
            ("envlock.version", "0.1.0"),
            (
                "envlock.virtual_packages.linux-64",
                "__glibc=2.17=0,__unix=0=0",
            ),
            ("envlock.virtual_packages.osx-arm64", ""),
            ("other.tool", "kept"),
        ];
        let mut lock = lock_with(&entries);
        lock.metadata.platforms = vec!["linux-64".into(), "linux-aarch64".into()];
        let meta = EnvlockMeta::read(&lock).unwrap();
        assert_eq!(meta.virtual_packages["osx-arm64"], Vec::<String>::new());
        assert!(InitRecord::added_to(meta.init.as_ref(), "linux-64"));
        assert!(!InitRecord::added_to(meta.init.as_ref(), "linux-aarch64"));
        let docker = meta.docker.as_ref().unwrap();
        assert_eq!(
            docker.options.as_ref().unwrap().entrypoint,
            Entrypoint::CondaRun
        );
        let mut written = LockFile::default();
        written.metadata.custom_metadata =
            Some([("other.tool".to_string(), "kept".to_string())].into());
        meta.write(&mut written);
        assert_eq!(
            written.metadata.custom_metadata,
            lock.metadata.custom_metadata
        );
    }

    #[test]
    fn the_runtime_is_recorded_only_when_slim_and_round_trips() {
        let single = r#"{"output":"Dockerfile","dir":"envlock","flavor":"conda","preset":"python","cmd":null,"ports":[],"run":[],"entrypoint":"tini","explicit_hash":"sha256"}"#;
        let options: DockerOptions = serde_json::from_str(single).unwrap();
        assert_eq!(options.runtime, Runtime::Single);
        assert_eq!(serde_json::to_string(&options).unwrap(), single);
        let slim = DockerOptions {
            runtime: Runtime::Slim,
            runtime_base: Some(format!("debian:bookworm-slim@sha256:{}", "1".repeat(64))),
            ..options
        };
        let json = serde_json::to_string(&slim).unwrap();
        assert!(
            json.ends_with(&format!(
                r#""explicit_hash":"sha256","runtime":"slim","runtime_base":"debian:bookworm-slim@sha256:{}"}}"#,
                "1".repeat(64)
            )),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<DockerOptions>(&json).unwrap(), slim);
    }

    #[test]
    fn a_foreign_lock_has_no_facts_and_writing_none_adds_nothing() {
        let mut lock = LockFile::default();
        let meta = EnvlockMeta::read(&lock).unwrap();
        assert_eq!(meta, EnvlockMeta::default());
        meta.write(&mut lock);
        assert_eq!(lock.metadata.custom_metadata, None);
    }

    #[test]
    fn a_malformed_value_names_its_key_and_the_command() {
        for (entries, key, command) in [
            (
                &[("envlock.exclude_newer", "yesterday")][..],
                "envlock.exclude_newer",
                "envlock resolve",
            ),
            (
                &[("envlock.pypi.index_strategy", "best")],
                "envlock.pypi.index_strategy",
                "envlock resolve",
            ),
            (
                &[("envlock.virtual_packages.linux-64", "glibc")],
                "envlock.virtual_packages.linux-64",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.pypi.build.linux-64",
                    r#"{"a":{"version":"1","requires":["not a name!"]}}"#,
                )],
                "envlock.pypi.build.linux-64",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.pypi.build.linux-64",
                    "{\"a\":{\"version\":\"1\",\"requires\":null,\"unpinned\":\"x\\nRUN evil\"}}",
                )],
                "envlock.pypi.build.linux-64",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.local_projects",
                    r#"[{"name":"x","path":"../../etc","dependencies_sha256":"0000000000000000000000000000000000000000000000000000000000000000"}]"#,
                )],
                "envlock.local_projects",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.local_projects",
                    r#"[{"name":"x","path":"/etc","dependencies_sha256":"0000000000000000000000000000000000000000000000000000000000000000"}]"#,
                )],
                "envlock.local_projects",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.local_projects",
                    r#"[{"name":"x","path":"a b\nRUN evil","dependencies_sha256":"0000000000000000000000000000000000000000000000000000000000000000"}]"#,
                )],
                "envlock.local_projects",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.local_projects",
                    r#"[{"name":"x","path":".","dependencies_sha256":"0000000000000000000000000000000000000000000000000000000000000000","backend_requires":["a"]}]"#,
                )],
                "envlock.local_projects",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.local_projects",
                    r#"[{"name":"x","path":".","dependencies_sha256":"0000000000000000000000000000000000000000000000000000000000000000","from_backend":true}]"#,
                )],
                "envlock.local_projects",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.local_projects",
                    r#"[{"name":"x","path":".","dependencies_sha256":"0000000000000000000000000000000000000000000000000000000000000000","from_backend":true,"build_inputs":{"../setup.py":"0000000000000000000000000000000000000000000000000000000000000000"}}]"#,
                )],
                "envlock.local_projects",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.local_projects",
                    r#"[{"name":"x","path":".","dependencies_sha256":"0000000000000000000000000000000000000000000000000000000000000000","from_backend":true,"build_inputs":{"setup.py":"nope"}}]"#,
                )],
                "envlock.local_projects",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.local_projects",
                    r#"[{"name":"x","path":".","dependencies_sha256":"0000000000000000000000000000000000000000000000000000000000000000","from_backend":true,"build_inputs":{"setup.py":"0000000000000000000000000000000000000000000000000000000000000000"},"backend_requires":["-e ."]}]"#,
                )],
                "envlock.local_projects",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.local_projects",
                    r#"[{"name":"x","path":".","dependencies_sha256":"0000000000000000000000000000000000000000000000000000000000000000","from_backend":true,"build_inputs":{"setup.py":"0000000000000000000000000000000000000000000000000000000000000000"},"backend_requires":["a\nRUN evil"]}]"#,
                )],
                "envlock.local_projects",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.init",
                    r#"{"init":"tini","added":["linux-aarch64"]}"#,
                )],
                "envlock.init",
                "envlock resolve",
            ),
            (
                &[("envlock.init", r#"{"init":"tini","added":["osx-arm64"]}"#)],
                "envlock.init",
                "envlock resolve",
            ),
            (
                &[(
                    "envlock.init",
                    r#"{"init":"tini","added":["linux-64"],"unavailable":["linux-64"]}"#,
                )],
                "envlock.init",
                "envlock resolve",
            ),
            (
                &[("envlock.init", r#"{"init":"none","added":["linux-64"]}"#)],
                "envlock.init",
                "envlock resolve",
            ),
            (
                &[("envlock.init", r#"{"init":"dumb-init"}"#)],
                "envlock.init",
                "envlock resolve",
            ),
            (
                &[
                    ("envlock.docker.base", "x"),
                    ("envlock.docker.flavor", "docker"),
                ],
                "envlock.docker.flavor",
                "envlock dockerfile --reset",
            ),
            (
                &[
                    ("envlock.docker.base", "x"),
                    ("envlock.docker.flavor", "venv"),
                    ("envlock.docker.options", "{}"),
                ],
                "envlock.docker.options",
                "envlock dockerfile --reset",
            ),
        ] {
            let mut lock = lock_with(entries);
            lock.metadata.platforms = vec!["linux-64".into(), "osx-arm64".into()];
            let e = EnvlockMeta::read(&lock).unwrap_err();
            let failure = e.downcast_ref::<Failure>().unwrap();
            assert!(e.to_string().contains(&format!("`{key}`")), "{e}");
            assert_eq!(
                failure.hint.as_deref(),
                Some(&*format!("run `{command}` to rewrite it"))
            );
        }
    }
}
