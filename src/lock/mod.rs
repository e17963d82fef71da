//! The lockfile: conda-lock's v1 format (CEP-37), so conda-lock, micromamba and conda's
//! conda-lockfiles plugin can install from it.
//!
//! The format model, its validation and its canonical YAML writer are rattler's
//! [`rattler_conda_lock`]; this module maps solutions onto it and keeps envlock's own facts in
//! `metadata.custom_metadata` as one typed record, [`EnvlockMeta`] (see [`meta`] for the keys).
//!
//! `metadata.content_hash` is, per platform, the sha256 of the normalized inputs for that
//! platform (channels, specs, pip lines, virtual packages, cutoff), as conda-lock's hash is of its
//! inputs. `envlock check` may use it as a fast path, never as the only test.
//!
//! Output is deterministic: packages and platforms are sorted by the writer, there is no run
//! timestamp, and the file is written to a temporary file and renamed into place.

use std::{collections::BTreeMap, path::Path};

use anyhow::Result;
use jiff::Timestamp;
use rattler_conda_lock::{Channel, Document, Hashes, LockFile, Manager, Metadata, Package};
use rattler_conda_types::{MatchSpec, PackageNameMatcher, ParseStrictness, RepoDataRecord};
use url::Url;

use crate::{
    inputs::{IndexStrategy, Inputs},
    solve::{
        conda::PlatformSolution,
        pypi::{build_set::BuildSet, resolver::Pinned},
    },
    util::{
        error::Failure,
        fs::{relative_to, write_atomic},
        redact,
    },
};

pub mod canonical;
pub mod diff;
pub mod fingerprint;
pub mod image;
pub mod meta;
pub mod pins;

pub use fingerprint::options_fingerprint;
pub use image::{Entrypoint, ExplicitHash, Flavor, Preset};
pub use meta::{
    DockerMeta, DockerOptions, EnvlockMeta, InitRecord, LocalProjectRecord, SdistBuildRecord,
};
pub use pins::{Pins, Update};

/// What went into a solve, besides the solutions themselves.
pub struct LockInputs<'a> {
    /// The inputs solved.
    pub spec: &'a Inputs,
    /// The alias channel names were resolved through.
    pub channel_alias: &'a Url,
    /// The `--exclude-newer` cutoff.
    pub exclude_newer: Option<Timestamp>,
    /// Where the lockfile will be written; sources are recorded relative to its directory.
    pub lockfile: &'a Path,
    /// The package indexes pip packages come from, in priority order.
    pub indexes: &'a [Url],
    /// How a project is looked up across them.
    pub index_strategy: IndexStrategy,
    /// See [`EnvlockMeta::options_sha256`].
    pub options_fingerprint: String,
    /// What `envlock dockerfile` recorded in the previous lock, carried over.
    pub docker: Option<DockerMeta>,
    /// Per solution, what its sdists' builds need ([`crate::solve::pypi::build_set`]); empty
    /// when nothing was resolved for them.
    pub build_sets: &'a [BuildSet],
    /// What was done about the image's init ([`EnvlockMeta::init`]).
    pub init: Option<&'a meta::InitRecord>,
}

/// The lock's record of each local project of `spec`, its path relative to the lockfile's
/// directory. A project outside that directory is refused: the lock (and the image's build
/// context) could not reach it.
pub fn local_project_records(spec: &Inputs, lockfile: &Path) -> Result<Vec<LocalProjectRecord>> {
    let lock_dir = match lockfile.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut records = Vec::new();
    for project in &spec.local_projects {
        let mut path = relative_to(&project.dir, lock_dir);
        if path.is_empty() {
            path = ".".to_string();
        }
        if let Err(e) = meta::check_local_path(&path) {
            return Err(Failure::new(format!(
                "{}: the local project `{}` at {} cannot be locked: {e}",
                project.location,
                project.name,
                project.dir.display()
            ))
            .hint(
                "keep local projects inside the lockfile's directory (it is the image's build \
                 context), or pass a --lockfile in a directory that contains them",
            )
            .into());
        }
        let input = project.location.file == project.pyproject;
        records.push(LocalProjectRecord {
            name: project.name.clone(),
            version: project.version.clone(),
            path,
            extras: project.extras.clone(),
            all_extras: project.all_extras,
            groups: project.groups.clone(),
            editable: project.editable,
            input,
            dependencies_sha256: project.dependencies_sha256(),
            build_sha256: Some(project.build_sha256()),
            from_backend: project.from_backend,
            backend_requires: project.backend_requires.clone(),
            build_inputs: project.build_inputs.clone(),
        });
    }
    Ok(records)
}

/// Builds the conda-lock v1 model for `solutions` and, per solution, its pip packages.
pub fn build(
    inputs: &LockInputs<'_>,
    solutions: &[PlatformSolution],
    pypi: &[Vec<Pinned>],
) -> Result<LockFile> {
    let channels = recorded_channels(inputs.spec);

    let indexes: Vec<String> = inputs
        .indexes
        .iter()
        .map(|u| redact::url(u).to_string())
        .collect();
    let has_pip = !inputs.spec.pypi.requirements.is_empty();
    let mut meta = EnvlockMeta {
        version: Some(env!("CARGO_PKG_VERSION").to_string()),
        channel_alias: Some(redact::url(inputs.channel_alias).to_string()),
        exclude_newer: inputs.exclude_newer,
        // Without pip requirements, an index given all the same is recorded too, so that a
        // check without that `--index-url` reads it back and finds no drift.
        pypi_indexes: (has_pip
            || indexes != [redact::url(&crate::inputs::prepare::default_index()).to_string()])
        .then(|| indexes.clone()),
        pypi_extras: has_pip.then(|| requested_extras(inputs.spec)),
        pypi_index_strategy: inputs
            .index_strategy
            .recorded()
            .and(has_pip.then_some(inputs.index_strategy)),
        options_sha256: Some(inputs.options_fingerprint.clone()),
        docker: inputs.docker.clone(),
        local_projects: local_project_records(inputs.spec, inputs.lockfile)?,
        pypi_git: git_records(inputs.spec)?,
        init: inputs.init.cloned(),
        ..EnvlockMeta::default()
    };

    let mut content_hash = BTreeMap::new();
    let mut packages = Vec::new();
    for (index, solution) in solutions.iter().enumerate() {
        let platform = solution.platform.to_string();
        let virtual_packages: Vec<String> = solution
            .virtual_packages
            .iter()
            .map(|v| v.to_string())
            .collect();
        content_hash.insert(
            platform.clone(),
            fingerprint::input_hash(inputs, &channels, &indexes, &platform, &virtual_packages),
        );
        meta.virtual_packages
            .insert(platform.clone(), virtual_packages);
        for record in &solution.records {
            packages.push(conda_package(record, &platform)?);
        }
        for pinned in pypi.get(index).into_iter().flatten() {
            packages.push(pip_package(pinned, &platform)?);
        }
        if let Some(set) = inputs.build_sets.get(index)
            && !set.sdists.is_empty()
        {
            for pinned in &set.pins {
                let mut package = pip_package(pinned, &platform)?;
                // conda-lock's installer skips optional categories unless asked for them.
                package.category = BUILD_CATEGORY.to_string();
                package.optional = true;
                packages.push(package);
            }
            let records = set
                .sdists
                .iter()
                .map(|s| {
                    let record = SdistBuildRecord {
                        version: s.version.to_string(),
                        requires: s
                            .needs
                            .as_ref()
                            .ok()
                            .map(|n| n.iter().map(ToString::to_string).collect()),
                        unpinned: s.needs.as_ref().err().map(|e| one_line(e)),
                        compiler: s.compiler.as_deref().map(one_line),
                    };
                    (s.name.to_string(), record)
                })
                .collect();
            meta.pypi_build.insert(platform.clone(), records);
        }
    }

    let mut lock = LockFile {
        metadata: Metadata {
            content_hash,
            channels: channels
                .into_iter()
                .map(|url| Channel {
                    url,
                    used_env_vars: vec![],
                })
                .collect(),
            platforms: solutions.iter().map(|s| s.platform.to_string()).collect(),
            sources: inputs
                .spec
                .sources
                .iter()
                .map(|s| relative_to(s, inputs.lockfile.parent().unwrap_or(Path::new("."))))
                .collect(),
            ..Metadata::default()
        },
        package: packages,
    };
    meta.packages_sha256 = lock.compute_content_hashes();
    meta.write(&mut lock);
    lock.validate().map_err(|e| {
        anyhow::anyhow!(
            "internal error: the lock envlock built is invalid: {}",
            e.report()
        )
    })?;
    Ok(lock)
}

/// The git requirements as requested, by package name, for [`EnvlockMeta::pypi_git`].
fn git_records(spec: &crate::inputs::Inputs) -> Result<BTreeMap<String, String>> {
    let mut records = BTreeMap::new();
    for r in &spec.pypi.requirements {
        if let Some(pep508_rs::VersionOrUrl::Url(url)) = &r.requirement.version_or_url
            && url.scheme().starts_with("git+")
        {
            let git = crate::solve::pypi::git::GitUrl::parse(url)
                .map_err(|e| anyhow::anyhow!("{}: {e:#}", r.location))?;
            records.insert(r.requirement.name.to_string(), git.requested());
        }
    }
    Ok(records)
}

/// The category of the pip packages that only build sdists (the build set).
pub const BUILD_CATEGORY: &str = "build";

/// Whether `p` is in a platform's build set (a pip entry of [`BUILD_CATEGORY`]), not the env.
pub fn is_build_requirement(p: &Package) -> bool {
    p.manager == Manager::Pip && p.category == BUILD_CATEGORY
}

/// Whether `p` is a pip package of the env itself (not of the build set).
pub fn is_env_pip(p: &Package) -> bool {
    p.manager == Manager::Pip && p.category != BUILD_CATEGORY
}

/// A reason as the lock records it: one printable line, redacted, at most 300 characters.
fn one_line(text: &str) -> String {
    let text: String = redact::text(text)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    text.chars().take(300).collect()
}

/// `name[extra]` for every extra the pip requirements ask for, sorted and unique.
pub fn requested_extras(spec: &Inputs) -> Vec<String> {
    let mut extras: Vec<String> = spec
        .pypi
        .requirements
        .iter()
        .flat_map(|r| {
            r.requirement
                .extras
                .iter()
                .map(move |e| format!("{}[{e}]", r.requirement.name))
        })
        .collect();
    extras.sort();
    extras.dedup();
    extras
}

/// The spec's channels as the lock records them: as written, without credentials.
pub fn recorded_channels(spec: &Inputs) -> Vec<String> {
    spec.channels
        .iter()
        .map(|c| redact::url_text(c.as_str()))
        .collect()
}

fn conda_package(record: &RepoDataRecord, platform: &str) -> Result<Package> {
    let p = &record.package_record;
    let (Some(sha256), Some(md5)) = (p.sha256, p.md5) else {
        // The solver excludes such records; this guards the promise that every entry is hashed.
        anyhow::bail!("internal error: {} has no sha256 or md5", record.url);
    };
    Ok(Package {
        name: p.name.as_normalized().to_string(),
        version: p.version.to_string(),
        manager: Manager::Conda,
        platform: platform.to_string(),
        dependencies: dependencies(&p.depends),
        url: redact::url(&record.url).to_string(),
        hash: Hashes {
            md5: Some(hex::encode(md5)),
            sha256: Some(hex::encode(sha256)),
        },
        source: None,
        build: Some(p.build.to_string()),
        category: "main".to_string(),
        optional: false,
    })
}

fn pip_package(pinned: &Pinned, platform: &str) -> Result<Package> {
    let Some(sha256) = pinned.file.sha256.clone() else {
        return Err(Failure::new(format!(
            "{} has no sha256 on its index, so it cannot be locked with a hash",
            pinned.file.filename
        ))
        .hint("use an index that publishes sha256 hashes (PEP 503 `#sha256=` or PEP 691 `hashes`)")
        .into());
    };
    Ok(Package {
        name: pinned.name.to_string(),
        version: pinned.version.to_string(),
        manager: Manager::Pip,
        platform: platform.to_string(),
        // CEP-37 writes an unconstrained Python dependency as `*`.
        dependencies: pinned
            .dependencies
            .iter()
            .map(|(n, c)| {
                (
                    n.to_string(),
                    if c.is_empty() { "*".into() } else { c.clone() },
                )
            })
            .collect(),
        // A git archive's URL is made without credentials, and keeps its `#subdirectory=`.
        url: if pinned.file.url.scheme().starts_with("git+") {
            pinned.file.url.to_string()
        } else {
            redact::url(&pinned.file.url).to_string()
        },
        hash: Hashes {
            md5: None,
            sha256: Some(sha256),
        },
        source: None,
        build: None,
        category: "main".to_string(),
        optional: false,
    })
}

/// CEP-37 stores dependencies as `name: constraint`, where `name constraint` is the match spec.
/// Repeated names (rare, but legal in repodata) are joined with `,`, which conda reads as "and".
fn dependencies(depends: &[String]) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for dep in depends {
        let (name, constraint) = match MatchSpec::from_str(dep, ParseStrictness::Lenient) {
            Ok(spec) => match &spec.name {
                PackageNameMatcher::Exact(name) => {
                    let rest = dep
                        .trim()
                        .split_once(char::is_whitespace)
                        .map_or("", |(_, rest)| rest.trim());
                    (name.as_normalized().to_string(), rest.to_string())
                }
                _ => (dep.clone(), String::new()),
            },
            Err(_) => {
                let mut parts = dep.trim().splitn(2, char::is_whitespace);
                let name = parts.next().unwrap_or_default().to_string();
                (name, parts.next().unwrap_or("").trim().to_string())
            }
        };
        match out.get_mut(&name) {
            Some(existing) if !constraint.is_empty() => {
                if existing.is_empty() {
                    *existing = constraint;
                } else {
                    existing.push(',');
                    existing.push_str(&constraint);
                }
            }
            Some(_) => {}
            None => {
                out.insert(name, constraint);
            }
        }
    }
    out
}

/// Serializes `lock` and writes it atomically.
pub fn write(lock: &LockFile, path: &Path) -> Result<()> {
    let yaml = lock.to_yaml().map_err(|e| {
        anyhow::anyhow!("internal error: cannot serialize the lock: {}", e.report())
    })?;
    write_atomic(path, yaml.as_bytes())
}

/// Parses the text of a conda-lock v1 file: [`canonical::read`] when it is canonical, else
/// [`Document::parse`] (with the error's span into `text`).
pub fn parse(text: &str) -> Result<LockFile, rattler_conda_lock::Error> {
    match canonical::read(text) {
        Some(lock) => Ok(lock),
        None => Document::parse(text).map(Document::into_lock_file),
    }
}

/// Reads a conda-lock v1 file, written by envlock or by conda-lock itself.
pub fn read(path: &Path) -> Result<LockFile> {
    if path.is_dir() {
        return Err(
            Failure::new(format!("{} is a directory, not a lockfile", path.display()))
                .hint("name the lockfile itself, e.g. `--lockfile DIR/conda-lock.yml`")
                .into(),
        );
    }
    // A regular file of bounded size only: a FIFO or a device would block the read.
    let bytes = match crate::util::fs::read_input(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::new(format!("{} does not exist", path.display()))
                .hint("create it with `envlock resolve`")
                .into());
        }
        Err(e) => {
            return Err(
                Failure::new(format!("could not read {}: {e}", path.display()))
                    .hint("name the lockfile itself, e.g. `--lockfile DIR/conda-lock.yml`")
                    .into(),
            );
        }
    };
    // UTF-8, with the bad byte's place (not `input_text`'s line limit: a lock's recorded JSON
    // values are single lines that grow with the lock).
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            return Err(match crate::util::fs::input_text(path, e.into_bytes()) {
                Err(failure) => failure.into(),
                Ok(_) => anyhow::anyhow!("{} is not UTF-8 text", path.display()),
            });
        }
    };
    // The fast path: a lock as envlock writes it needs no spans ([`canonical`]); anything else,
    // and every error, is read again with them.
    if let Some(lock) = canonical::read(&text) {
        return Ok(lock);
    }
    let document = Document::parse(&text).map_err(|e| {
        let (line, column) = e
            .span()
            .zip(e.source_text())
            .map(|(span, text)| line_column(text, span.start))
            .unwrap_or((1, 1));
        Failure::new(format!(
            "{}:{line}:{column}: not a valid conda-lock v1 file: {}",
            path.display(),
            e.kind()
        ))
        .hint("regenerate it with `envlock resolve`")
        .at(path, e.source_text(), line, column)
    })?;
    Ok(document.into_lock_file())
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_split_name_and_constraint() {
        let deps = dependencies(&[
            "python >=3.9,<3.10.0a0".into(),
            "python_abi 3.9.* *_cp39".into(),
            "pip".into(),
            "libgcc-ng >=12".into(),
            "libgcc-ng <14".into(),
        ]);
        assert_eq!(deps["python"], ">=3.9,<3.10.0a0");
        assert_eq!(deps["python_abi"], "3.9.* *_cp39");
        assert_eq!(deps["pip"], "");
        assert_eq!(deps["libgcc-ng"], ">=12,<14");
    }

    #[test]
    fn a_directory_is_not_called_missing() {
        let dir = tempfile::tempdir().unwrap();
        let e = format!("{:#}", read(dir.path()).unwrap_err());
        assert!(e.ends_with("is a directory, not a lockfile"), "{e}");
    }

    #[test]
    fn reading_a_malformed_lock_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conda-lock.yml");
        std::fs::write(
            &path,
            "version: 1\nmetadata:\n  platforms: [linux-64]\npackage: 3\n",
        )
        .unwrap();
        let e = format!("{:#}", read(&path).unwrap_err());
        assert!(e.contains("conda-lock.yml:"), "{e}");
        assert!(e.contains("not a valid conda-lock v1 file"), "{e}");
    }
}
