//! The build set of a platform: what the image needs to build the platform's locked sdists
//! without fetching anything unpinned.
//!
//! For each locked sdist, its build requirements are read from the sdist itself
//! (`build-system.requires` of its `pyproject.toml`, or setuptools' legacy default
//! `setuptools>=40.8.0` and `wheel` when it names no build system). The union over a
//! platform's sdists is resolved by the same [`resolver`] as the environment, for the
//! **target** platform and python, wheels only, with the same indexes and `--exclude-newer`;
//! the lock records the result as `category: build` pip entries, and per sdist which of them
//! its build needs ([`SdistBuild`]), so that the Dockerfile installs them hash-checked into a
//! directory of their own and builds the sdists with `--no-build-isolation`.
//!
//! When the union does not resolve, sdists are added one at a time (by name) and each one
//! whose requirements do not fit is left without a build set, with the reason: the image then
//! builds it with pip's build isolation, its build requirements unpinned. A resolve never fails
//! because of a build set.
//!
//! What get_requires_for_build_wheel would add is not included: it is only known after running
//! the backend, which a warm resolve does not do, and the lock must not depend on the cache.
//! Current setuptools asks for nothing more.
//!
//! Each sdist is also read for whether its build needs a compiler: C/C++/Cython/Rust/Fortran
//! sources outside tests and docs, `ext_modules`/`Extension(` in `setup.py`, or a build
//! requirement such as cython, pybind11, maturin, setuptools-rust, scikit-build(-core),
//! meson-python or cffi. What was read is cached by the sdist's sha256.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    io::Read,
    path::{Path, PathBuf},
    sync::Arc,
};

use jiff::Timestamp;
use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};

use super::{
    build::build_system_of,
    index::{DistKind, IndexClient},
    resolver::{self, Pinned},
    tags::Target,
};
use crate::{
    inputs::{
        Location,
        requirements::{BinaryChoice, PipOptions, PipRequirement},
    },
    util::redact,
};

/// Build requirements that mean the sdist compiles code.
const COMPILING_REQUIREMENTS: &[&str] = &[
    "cython",
    "pybind11",
    "nanobind",
    "maturin",
    "setuptools-rust",
    "scikit-build",
    "scikit-build-core",
    "meson-python",
    "cffi",
];

/// Source files that need a compiler.
const COMPILED_EXTENSIONS: &[&str] = &[
    ".c", ".cc", ".cpp", ".cxx", ".c++", ".pyx", ".rs", ".f", ".f90", ".cu",
];

/// What an sdist declares for its build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdistInfo {
    /// Its build requirements (PEP 508).
    pub requires: Vec<String>,
    /// Why its build needs a compiler, when it does.
    pub compiler: Option<String>,
}

/// What one locked sdist's build needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdistBuild {
    /// The sdist's project.
    pub name: PackageName,
    /// Its version.
    pub version: Version,
    /// The build-set packages its build needs (sorted), or `Err(why)` when its build
    /// requirements could not be pinned.
    pub needs: Result<Vec<PackageName>, String>,
    /// Why its build needs a compiler, when it does.
    pub compiler: Option<String>,
}

/// The build set of one platform.
#[derive(Debug, Clone, Default)]
pub struct BuildSet {
    /// The pinned build requirements: wheels for the target.
    pub pins: Vec<Pinned>,
    /// Every locked sdist of the platform, by name.
    pub sdists: Vec<SdistBuild>,
}

/// A local project's build, which joins every platform's build set like a locked sdist's: the
/// image builds the project from its source without build isolation, from pinned wheels.
#[derive(Debug, Clone)]
pub struct LocalBuild {
    /// The project.
    pub name: PackageName,
    /// Its static version, else 0.
    pub version: Version,
    /// `[build-system] requires`, or setuptools' legacy default when it names no build system.
    pub requires: Vec<String>,
}

/// Resolves the build set of each platform (`pypi[i]` is what the platform `targets[i]`
/// locks), with the builds of the `locals` projects. `preferred` holds, per platform index, the
/// build-set versions of the previous lock.
pub async fn resolve_build_sets(
    client: Arc<IndexClient>,
    targets: &[Target],
    pypi: &[Vec<Pinned>],
    locals: &[LocalBuild],
    exclude_newer: Option<Timestamp>,
    preferred: &[HashMap<PackageName, Version>],
    cache_dir: &Path,
) -> Vec<BuildSet> {
    let mut out = Vec::new();
    for (i, (target, pins)) in targets.iter().zip(pypi).enumerate() {
        let mut sdists = Vec::new();
        let mut wanted: Vec<(usize, Vec<PipRequirement>)> = Vec::new();
        for local in locals {
            let needs =
                match requirements(&local.requires, &format!("{} (local project)", local.name)) {
                    Ok(r) => {
                        wanted.push((sdists.len(), r));
                        Ok(Vec::new())
                    }
                    Err(e) => Err(e),
                };
            sdists.push(SdistBuild {
                name: local.name.clone(),
                version: local.version.clone(),
                needs,
                compiler: None,
            });
        }
        for pin in pins {
            let DistKind::Sdist(_) = pin.file.kind else {
                continue;
            };
            let info = sdist_info(&client, pin, cache_dir).await;
            let (needs, compiler) = match info {
                Ok(info) => match requirements(&info.requires, &pin.file.filename) {
                    Ok(r) => {
                        wanted.push((sdists.len(), r));
                        (Ok(Vec::new()), info.compiler)
                    }
                    Err(e) => (Err(e), info.compiler),
                },
                Err(e) => (Err(e), None),
            };
            sdists.push(SdistBuild {
                name: pin.name.clone(),
                version: pin.version.clone(),
                needs,
                compiler,
            });
        }
        let preferred = preferred.get(i).cloned().unwrap_or_default();
        let options = resolver::Options {
            pip: PipOptions {
                only_binary: BinaryChoice::All,
                ..PipOptions::default()
            },
            exclude_newer,
            preferred,
            warnings: Default::default(),
        };
        let all: Vec<PipRequirement> = wanted.iter().flat_map(|(_, r)| r.clone()).collect();
        let mut set = Vec::new();
        if !all.is_empty() {
            match resolve(&client, &all, target, &options).await {
                Ok(pins) => set = pins,
                Err(_) => {
                    // One at a time: keep the sdists whose requirements fit with those before.
                    let mut accepted: Vec<PipRequirement> = Vec::new();
                    for (index, reqs) in &wanted {
                        let mut trial = accepted.clone();
                        trial.extend(reqs.iter().cloned());
                        match resolve(&client, &trial, target, &options).await {
                            Ok(pins) => {
                                accepted = trial;
                                set = pins;
                            }
                            Err(e) => sdists[*index].needs = Err(e),
                        }
                    }
                }
            }
        }
        for (index, reqs) in &wanted {
            if sdists[*index].needs.is_ok() {
                sdists[*index].needs = Ok(closure(reqs, &set));
            }
        }
        out.push(BuildSet { pins: set, sdists });
    }
    out
}

async fn resolve(
    client: &Arc<IndexClient>,
    requirements: &[PipRequirement],
    target: &Target,
    options: &resolver::Options,
) -> Result<Vec<Pinned>, String> {
    resolver::resolve(
        client.clone(),
        requirements,
        &[],
        target,
        &HashMap::new(),
        options,
    )
    .await
    .map_err(|e| {
        let text = redact::text(&format!("{e:#}"));
        text.lines().next().unwrap_or_default().trim().to_string()
    })
}

/// The build requirements as the resolver's input, located in the sdist's pyproject.toml.
fn requirements(requires: &[String], filename: &str) -> Result<Vec<PipRequirement>, String> {
    requires
        .iter()
        .map(|r| {
            let requirement = crate::util::pep508::parse(r)
                .map_err(|e| format!("invalid build requirement `{r}`: {e}"))?;
            Ok(PipRequirement {
                requirement,
                hashes: Vec::new(),
                unnamed: false,
                location: Location {
                    file: PathBuf::from(format!("{filename}/pyproject.toml")),
                    line: 1,
                    column: 1,
                },
            })
        })
        .collect()
}

/// The names the requirements reach in `set`, sorted.
fn closure(requirements: &[PipRequirement], set: &[Pinned]) -> Vec<PackageName> {
    let by_name: HashMap<&PackageName, &Pinned> = set.iter().map(|p| (&p.name, p)).collect();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<PackageName> = requirements
        .iter()
        .map(|r| r.requirement.name.clone())
        .collect();
    while let Some(name) = stack.pop() {
        if let Some(p) = by_name.get(&name)
            && seen.insert(name.clone())
        {
            stack.extend(p.dependencies.keys().cloned());
        }
    }
    seen.into_iter().collect()
}

/// What the sdist of `pin` declares, from the cache or a (hash-checked) download.
async fn sdist_info(
    client: &IndexClient,
    pin: &Pinned,
    cache_dir: &Path,
) -> Result<SdistInfo, String> {
    let cached = pin
        .file
        .sha256
        .as_ref()
        .map(|sha| cache_dir.join("build-info-v1").join(format!("{sha}.json")));
    if let Some(path) = &cached
        && let Ok(text) = std::fs::read_to_string(path)
        && let Ok(info) = serde_json::from_str::<SdistInfo>(&text)
    {
        return Ok(info);
    }
    let bytes = client
        .download(&pin.file)
        .await
        .map_err(|e| redact::text(&format!("cannot download {}: {e:#}", pin.file.filename)))?;
    let filename = pin.file.filename.clone();
    let info = tokio::task::spawn_blocking(move || inspect(&filename, &bytes))
        .await
        .map_err(|e| e.to_string())??;
    if let Some(path) = &cached
        && let Ok(json) = serde_json::to_string(&info)
    {
        let _ = crate::util::fs::write_cache(path, json.as_bytes());
    }
    Ok(info)
}

/// Reads an sdist's build requirements and whether it compiles code.
pub fn inspect(filename: &str, bytes: &[u8]) -> Result<SdistInfo, String> {
    let mut names = Vec::new();
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let top = |path: &str| -> Option<String> {
        let path = path.trim_start_matches("./");
        let (_, rest) = path.split_once('/')?;
        Some(rest.to_string())
    };
    let wanted = |rest: &str| rest == "pyproject.toml" || rest == "setup.py";
    let error = |e: &dyn std::fmt::Display| format!("cannot read {filename}: {e}");
    if filename.ends_with(".zip") {
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| error(&e))?;
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).map_err(|e| error(&e))?;
            let Some(rest) = top(&file.name().map_err(|e| error(&e))?) else {
                continue;
            };
            if wanted(&rest) {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                files.insert(rest.clone(), text);
            }
            names.push(rest);
        }
    } else {
        let mut archive = tar::Archive::new(super::metadata::tar_stream(filename, bytes));
        for entry in archive.entries().map_err(|e| error(&e))? {
            let mut entry = entry.map_err(|e| error(&e))?;
            let path = entry.path().map_err(|e| error(&e))?;
            let Some(rest) = top(&path.to_string_lossy()) else {
                continue;
            };
            if wanted(&rest) {
                let mut text = String::new();
                let _ = entry.read_to_string(&mut text);
                files.insert(rest.clone(), text);
            }
            names.push(rest);
        }
    }
    let system = build_system_of(files.get("pyproject.toml").map(String::as_str))
        .map_err(|e| format!("{filename}: {e}"))?;
    let mut requires = system.requires;
    // The table however it is written (`[build-system]`, dotted keys, an inline table).
    let declared = files
        .get("pyproject.toml")
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key("build-system"));
    if !declared {
        // setuptools' legacy default, as pip and build use it.
        requires = vec!["setuptools>=40.8.0".to_string(), "wheel".to_string()];
    }
    Ok(SdistInfo {
        compiler: compiler(&requires, &names, files.get("setup.py")),
        requires,
    })
}

/// Why a build needs a compiler, if it does.
fn compiler(requires: &[String], names: &[String], setup_py: Option<&String>) -> Option<String> {
    let reason = c_compiler(requires, names, setup_py)?;
    let fortran = names.iter().find(|name| {
        let lower = name.to_ascii_lowercase();
        !in_skipped_dir(name) && FORTRAN_EXTENSIONS.iter().any(|e| lower.ends_with(e))
    });
    Some(match fortran {
        Some(file) if reason.contains(file.as_str()) => {
            format!("{reason}, which needs a Fortran compiler too")
        }
        Some(file) => format!("{reason}; its Fortran sources ({file}) need a Fortran compiler too"),
        None => reason,
    })
}

/// Fortran source extensions, named in the reason of an sdist that needs a compiler anyway:
/// such packages (apexpy) need gfortran as well as a C compiler.
const FORTRAN_EXTENSIONS: &[&str] = &[".f", ".f77", ".f90", ".f95", ".f03", ".f08", ".for"];

/// Whether `name` is under a test, docs or examples directory, whose sources are not built.
fn in_skipped_dir(name: &str) -> bool {
    let skipped = [
        "test",
        "tests",
        "testing",
        "doc",
        "docs",
        "examples",
        "benchmarks",
    ];
    Path::new(name)
        .components()
        .any(|c| skipped.contains(&c.as_os_str().to_string_lossy().as_ref()))
}

/// Why the sdist needs a C (or C++, Rust) compiler, if it does.
fn c_compiler(requires: &[String], names: &[String], setup_py: Option<&String>) -> Option<String> {
    for r in requires {
        if let Ok(r) = crate::util::pep508::parse::<pep508_rs::VerbatimUrl>(r)
            && COMPILING_REQUIREMENTS.contains(&r.name.as_ref())
        {
            return Some(format!("it builds with {}", r.name));
        }
    }
    for name in names {
        if in_skipped_dir(name) {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if COMPILED_EXTENSIONS.iter().any(|e| lower.ends_with(e)) {
            return Some(format!("it has compiled sources ({name})"));
        }
    }
    if let Some(text) = setup_py
        && (text.contains("ext_modules") || text.contains("Extension("))
    {
        return Some("its setup.py builds extension modules".to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (path, body) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, format!("p-1.0/{path}"), body.as_bytes())
                .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn reads_build_requirements_and_compiler_needs() {
        let legacy = inspect("p-1.0.tar.gz", &tar_gz(&[("setup.py", "setup()\n")])).unwrap();
        assert_eq!(legacy.requires, ["setuptools>=40.8.0", "wheel"]);
        assert_eq!(legacy.compiler, None);
        let declared = inspect(
            "p-1.0.tar.gz",
            &tar_gz(&[
                (
                    "pyproject.toml",
                    "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
                ),
                ("tests/data/x.c", ""),
            ]),
        )
        .unwrap();
        assert_eq!(declared.requires, ["hatchling"]);
        assert_eq!(declared.compiler, None, "test sources do not count");
        let c = inspect("p-1.0.tar.gz", &tar_gz(&[("src/speedups.c", "")])).unwrap();
        assert!(c.compiler.unwrap().contains("src/speedups.c"));
        let ext = inspect(
            "p-1.0.tar.gz",
            &tar_gz(&[("setup.py", "setup(ext_modules=[Extension('a', ['a.c'])])")]),
        )
        .unwrap();
        assert!(ext.compiler.is_some());
        let cython = inspect(
            "p-1.0.tar.gz",
            &tar_gz(&[(
                "pyproject.toml",
                "[build-system]\nrequires = [\"setuptools\", \"Cython>=3\"]\n",
            )]),
        )
        .unwrap();
        assert_eq!(cython.compiler.as_deref(), Some("it builds with cython"));
        // Fortran sources are named: a C compiler alone does not build them.
        let meson = inspect(
            "p-1.0.tar.gz",
            &tar_gz(&[
                (
                    "pyproject.toml",
                    "[build-system]\nrequires = [\"meson-python\"]\nbuild-backend = \"mesonpy\"\n",
                ),
                ("fortranapex/igrf.f90", ""),
                ("tests/ref.f", ""),
            ]),
        )
        .unwrap();
        assert_eq!(
            meson.compiler.as_deref(),
            Some(
                "it builds with meson-python; its Fortran sources (fortranapex/igrf.f90) need a \
                 Fortran compiler too"
            )
        );
        let fortran = inspect("p-1.0.tar.gz", &tar_gz(&[("src/a.F90", "")])).unwrap();
        assert_eq!(
            fortran.compiler.as_deref(),
            Some("it has compiled sources (src/a.F90), which needs a Fortran compiler too")
        );
    }

    #[test]
    fn a_build_system_table_counts_however_it_is_written() {
        for pyproject in [
            "build-system.requires = [\"flit_core>=3\"]\n",
            "build-system = { requires = [\"flit_core>=3\"] }\n",
            "[project]\nname = \"p\"\n\n  [ build-system ]\nrequires = [\"flit_core>=3\"]\n",
        ] {
            let info = inspect("p-1.0.tar.gz", &tar_gz(&[("pyproject.toml", pyproject)])).unwrap();
            assert_eq!(info.requires, ["flit_core>=3"], "{pyproject}");
        }
        // A pyproject.toml without the table (only `[project]`, or the name in a comment or a
        // string) gets setuptools' legacy default.
        for pyproject in [
            "[project]\nname = \"p\"\n",
            "# [build-system]\n[project]\ndescription = \"[build-system]\"\n",
        ] {
            let info = inspect("p-1.0.tar.gz", &tar_gz(&[("pyproject.toml", pyproject)])).unwrap();
            assert_eq!(
                info.requires,
                ["setuptools>=40.8.0", "wheel"],
                "{pyproject}"
            );
        }
    }
}
