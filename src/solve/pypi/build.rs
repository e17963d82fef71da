//! Core metadata of sdists whose PKG-INFO does not give it, got as pip and uv get it: the PEP 517
//! hook `prepare_metadata_for_build_wheel` (else `build_wheel`, and the wheel's METADATA), run
//! in an isolated build environment.
//!
//! The build environment: the sdist's `build-system.requires` (setuptools' legacy default,
//! `setuptools>=40.8.0` with `setuptools.build_meta:__legacy__`, when `pyproject.toml` names no
//! build system), resolved by envlock's own resolver for the build python on this machine
//! (wheels only, with the lock's `--exclude-newer`), downloaded and hash-checked by the index
//! client, and unpacked into a fresh venv without pip ([`super::wheel_install`]); then what the
//! backend's `get_requires_for_build_wheel` adds, the same way (that hook and the metadata hook
//! run in one process when it adds nothing). The hooks run in the unpacked sdist (`.tar.gz`,
//! `.zip`) with no package index configured (`PIP_NO_INDEX=1`, no pip configuration files),
//! each step with a timeout. The index client caches the METADATA by the sdist's sha256, so a
//! warm resolve builds nothing.
//!
//! A local project whose dependencies are dynamic (or that has only a setup.py / setup.cfg) gets
//! its metadata the same way ([`Builder::local_metadata`], used by [`super::local`]), the hook
//! run in the project's directory (in-tree, as pip builds it). Its METADATA is cached under
//! `<cache>/pypi/local-metadata-v1/`, keyed by what the hook's answer is known to depend on
//! ([`local_cache_key`]): the project's directory, the sha256 of each of its build inputs (the
//! files [`crate::inputs::pyproject::build_inputs`] records), its build system (requirements,
//! backend, backend path, and an in-tree backend's own files: [`in_tree_backend_files`]), the
//! version of the python that runs the hook, this machine's
//! platform (the build environment is made for it) and the `--exclude-newer` cutoff its build
//! requirements are resolved with. What a `setup.py` reads beyond those files is not tracked:
//! `--refresh` runs the hook again. `--offline` uses a cached answer and never runs the hook.
//!
//! Which python builds: `--build-python` when given; else the locked python when it runs here
//! (the active conda environment's `python`, at exactly the locked version); else `python3.X`
//! on `PATH` for the target's 3.X; else `python3` on `PATH`. Each build is reported (package,
//! python, build requirements) so that the user sees which locked versions needed one.
//!
//! A failed build is a [`BuildFailed`]: the resolver treats that version as unusable and moves
//! on, and reports the failure (package, version, the backend's last lines of output, what to
//! do) only when no version will do.
//!
//! Not supported: building on the target platform (the metadata is what this machine's build
//! gives, as with pip and uv, so an sdist whose `setup.py` computes its dependencies from the
//! machine it runs on may differ on the target), build requirements without wheels,
//! `config_settings`. The build requirements the image builds sdists with are locked by
//! [`super::build_set`], for the target rather than this machine.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    str::FromStr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use jiff::Timestamp;
use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement, VersionOrUrl};
use rattler_conda_types::Subdir;
use serde::Deserialize;
use tokio::sync::{OnceCell, Semaphore};

use super::{
    index::{BuildFailed, DistFile, DistKind, IndexClient, SdistBuilder},
    metadata,
    resolver::{self, Pinned},
    tags::Target,
};
use crate::{
    inputs::{
        Location,
        requirements::{BinaryChoice, PipOptions, PipRequirement},
        target::virtual_packages,
    },
    util::redact,
};

/// The frontend's side of the PEP 517 hook call, run by the build environment's python in the
/// unpacked sdist (after `pyproject_hooks`' in-process script): import the backend, call one
/// hook, write its answer to `<out>/result.json`.
const HOOK_SCRIPT: &str = r#"import importlib
import json
import os
import sys


def load_backend(spec, backend_path):
    if backend_path:
        sys.path[:0] = [os.path.abspath(p) for p in backend_path]
    module, _, attributes = spec.partition(":")
    backend = importlib.import_module(module.strip())
    for attribute in attributes.strip().split("."):
        if attribute:
            backend = getattr(backend, attribute)
    return backend


def metadata(backend, out):
    prepare = getattr(backend, "prepare_metadata_for_build_wheel", None)
    if prepare is not None:
        metadata_dir = os.path.join(out, "metadata")
        os.makedirs(metadata_dir, exist_ok=True)
        name = prepare(metadata_dir, {})
        return {"metadata": os.path.join(metadata_dir, name, "METADATA")}
    wheel_dir = os.path.join(out, "wheel")
    os.makedirs(wheel_dir, exist_ok=True)
    return {"wheel": os.path.join(wheel_dir, backend.build_wheel(wheel_dir, {}))}


def main():
    spec, backend_path, hook, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
    backend = load_backend(spec, backend_path)
    result = {}
    result_path = os.path.join(out, "result.json")
    if hook in ("requires", "both"):
        get_requires = getattr(backend, "get_requires_for_build_wheel", None)
        result["requires"] = list(get_requires({})) if get_requires else []
        with open(result_path, "w") as f:
            json.dump(result, f)
    if hook in ("metadata", "both"):
        # In the `both` mode the metadata follows in the same process, in case what
        # get_requires_for_build_wheel asked for is installed already (the common case);
        # envlock decides whether it counts.
        result.update(metadata(backend, out))
    with open(result_path, "w") as f:
        json.dump(result, f)


main()
"#;

/// What the probe prints about a python.
const PROBE_SCRIPT: &str = "import json, sys, venv\nprint(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3], 'executable': sys.executable}))\n";

/// How many lines of a failed step's output a message shows.
const TAIL_LINES: usize = 20;

/// How sdists are built.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `--build-python`: the interpreter to build with, instead of looking for one.
    pub python: Option<PathBuf>,
    /// The python version the lock targets (the conda python's, e.g. 3.11.7).
    pub target_python: Version,
    /// The lock's `--exclude-newer`, which applies to build requirements too.
    pub exclude_newer: Option<Timestamp>,
    /// How long each step (venv, install, hook) may take.
    pub timeout: Duration,
}

impl BuildOptions {
    /// Options for a lock that targets `target_python`, with the default timeout (10 minutes a
    /// step).
    pub fn new(target_python: Version) -> BuildOptions {
        BuildOptions {
            python: None,
            target_python,
            exclude_newer: None,
            timeout: Duration::from_secs(600),
        }
    }
}

/// The python that builds, and how it was chosen.
#[derive(Debug, Clone)]
struct BuildPython {
    path: PathBuf,
    version: Version,
    /// For messages: `python3.11 on PATH (3.11.7)`.
    description: String,
}

/// Builds sdists' metadata for an [`IndexClient`] (see the module docs).
pub struct Builder {
    /// Fetches the build requirements: wheels only, so it needs no builder of its own.
    client: Arc<IndexClient>,
    options: BuildOptions,
    python: OnceCell<Result<BuildPython, BuildFailed>>,
    /// Builds are CPU-heavy: at most two at once.
    permits: Semaphore,
    notes: Mutex<Vec<String>>,
}

impl Builder {
    /// A builder that fetches build requirements through `client` (which should have no builder
    /// itself).
    pub fn new(client: Arc<IndexClient>, options: BuildOptions) -> Builder {
        Builder {
            client,
            options,
            python: OnceCell::new(),
            permits: Semaphore::new(2),
            notes: Mutex::default(),
        }
    }

    /// One line for each sdist built: the package, the python, the build requirements.
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().expect("not poisoned").clone()
    }

    async fn python(&self) -> Result<BuildPython, BuildFailed> {
        self.python
            .get_or_init(|| async {
                let options = self.options.clone();
                tokio::task::spawn_blocking(move || find_python(&options))
                    .await
                    .unwrap_or_else(|e| {
                        Err(BuildFailed {
                            message: format!("looking for a python to build sdists with: {e}"),
                            hint: "pass `--build-python PATH`".to_string(),
                        })
                    })
            })
            .await
            .clone()
    }

    async fn build(&self, file: &DistFile, bytes: Vec<u8>) -> Result<String, BuildFailed> {
        let (name, version) = match &file.kind {
            DistKind::Sdist(s) => (s.name.clone(), s.version.clone()),
            DistKind::Wheel(w) => (w.name.clone(), w.version.clone()),
        };
        let what = format!("{name} {version}");
        let hint = format!(
            "pin a version of {name} that has wheels, add `--only-binary {name}` (or `:all:`) to \
             the requirements, or install what its build needs on this machine (a compiler, \
             headers, system libraries); `--build-python PATH` chooses the python that builds"
        );
        let source = Source::Sdist {
            filename: file.filename.clone(),
            bytes,
        };
        self.run_backend(&what, "its sdist", &file.filename, &hint, source)
            .await
    }

    /// The METADATA of the local project in `dir`, from its backend's metadata hook, run in
    /// that directory (in-tree, as pip builds a local project) in the same isolated build
    /// environment as an sdist's. `build_inputs` are the sha256s of the files its metadata is
    /// computed from (path relative to `dir`); the answer is cached by them and the rest of
    /// [`local_cache_key`], so a warm resolve with nothing changed runs no hook. `--refresh`
    /// runs it all the same; `--offline` never runs it, and a cache miss is an error naming the
    /// project.
    pub async fn local_metadata(
        &self,
        dir: &Path,
        build_inputs: &BTreeMap<String, String>,
    ) -> Result<String, BuildFailed> {
        let shown = dir.display().to_string();
        let what = format!("the local project {shown}");
        let hint = format!(
            "fix the project's build (the step that failed is named, with the backend's last \
             output when it ran), or declare its dependencies statically in `[project]` of {} (PEP 621); `--build-python PATH` \
             chooses the python that runs the hook",
            dir.join("pyproject.toml").display()
        );
        let absolute = std::path::absolute(dir).map_err(|e| BuildFailed {
            message: format!("cannot build the metadata of {what}: {e}"),
            hint: hint.clone(),
        })?;
        let from = "its directory";
        let python = self.python().await.map_err(|e| BuildFailed {
            message: format!("cannot build the metadata of {what} from {from}: {e}"),
            hint: e.hint.clone(),
        })?;
        let system = build_system(&absolute).map_err(|e| BuildFailed {
            message: format!("cannot build the metadata of {what} from {from}: {e}"),
            hint: hint.clone(),
        })?;
        // The key names the project by its real path: two checkouts with the same recorded
        // files may differ in what a setup.py reads besides them.
        let real = std::fs::canonicalize(&absolute).unwrap_or_else(|_| absolute.clone());
        let key = local_cache_key(&LocalKey {
            dir: &real,
            python: &python.version,
            host: Subdir::current().map(|s| s.as_str()).unwrap_or("unknown"),
            system: &system,
            exclude_newer: self.options.exclude_newer,
            build_inputs,
            backend_files: &in_tree_backend_files(&real, &system),
        });
        let path = self
            .client
            .cache_dir()
            .join(LOCAL_METADATA_DIR)
            .join(format!("{key}.txt"));
        if !self.client.refresh()
            && let Some(text) = super::index::load_text(&path)
            && metadata::CoreMetadata::parse(&text).is_ok()
        {
            self.notes.lock().expect("not poisoned").push(format!(
                "used the cached metadata of {what}: its build inputs, build system and python \
                 ({}) are as when its hook last ran (`--refresh` runs the hook again)",
                python.version
            ));
            return Ok(text);
        }
        if self.client.offline() {
            let files: Vec<&str> = build_inputs.keys().map(String::as_str).collect();
            return Err(BuildFailed {
                message: format!(
                    "the metadata of {what} is not in the cache for its build inputs as they \
                     are now ({}), build system and python {}, and --offline does not run its \
                     build backend",
                    files.join(", "),
                    python.version
                ),
                hint: "run the resolve once without --offline: it runs the project's metadata \
                       hook and caches the result, which `--offline` uses while those stay the \
                       same"
                    .to_string(),
            });
        }
        let text = self
            .run_backend(&what, from, from, &hint, Source::Dir(absolute))
            .await?;
        // An answer that does not parse is reported by the caller, and not kept.
        if metadata::CoreMetadata::parse(&text).is_ok() {
            super::index::store_text(&path, &text);
        }
        Ok(text)
    }

    /// Runs the metadata hook of `source`'s backend (`what` and `from` name it in messages and
    /// notes, `origin` in a failure) and returns the METADATA text.
    async fn run_backend(
        &self,
        what: &str,
        from: &str,
        origin: &str,
        hint: &str,
        source: Source,
    ) -> Result<String, BuildFailed> {
        let hint = hint.to_string();
        let python = self.python().await.map_err(|e| BuildFailed {
            message: format!("cannot build the metadata of {what} from {from}: {e}"),
            hint: e.hint.clone(),
        })?;
        let fail = |step: &str, detail: String| BuildFailed {
            message: format!(
                "could not build the metadata of {what} from {origin} with {}: {step}: {detail}",
                python.description
            ),
            hint: hint.clone(),
        };
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| fail("waiting", e.to_string()))?;
        let host = Subdir::current().ok_or_else(|| {
            fail(
                "setting up",
                "envlock knows no wheel tags for this machine's platform".to_string(),
            )
        })?;
        let target = Target::new(host, &python.version, &virtual_packages(host, &[]))
            .map_err(|e| fail("setting up", format!("{e:#}")))?;
        let work = crate::util::fs::ScratchDir::new("envlock-build-")
            .map_err(|e| fail("creating a temporary directory", e.to_string()))?;
        let dirs = WorkDirs::new(work.path());

        let d = dirs.clone();
        let (source, system) = blocking(move || {
            let source = match source {
                Source::Sdist { filename, bytes } => unpack(&filename, &bytes, &d.unpacked)?,
                Source::Dir(dir) => dir,
            };
            let system = build_system(&source)?;
            if let Some(dir) = d.script.parent() {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
            std::fs::write(&d.script, HOOK_SCRIPT).map_err(|e| e.to_string())?;
            Ok((source, system))
        })
        .await
        .map_err(|e| fail("reading the sdist", e))?;

        let mut installed = self
            .resolve(&system.requires, &target, &HashMap::new())
            .await
            .map_err(|e| fail("resolving its build requirements", e))?;
        let wheels = self
            .download(&installed, &dirs)
            .await
            .map_err(|e| fail("downloading its build requirements", e))?;
        let (p, d, timeout) = (python.clone(), dirs.clone(), self.options.timeout);
        blocking(move || create_env(&p, &d, timeout))
            .await
            .map_err(|e| fail("creating the build environment", e))?;
        let (p, d) = (python.clone(), dirs.clone());
        blocking(move || install(&p, &d, &wheels))
            .await
            .map_err(|e| fail("installing its build requirements", e))?;

        let (d, s, src) = (dirs.clone(), system.clone(), source.clone());
        // get_requires_for_build_wheel and, in the same process, the metadata: it counts when
        // the first hook asks for nothing that is not installed.
        let result = blocking(move || run_hook(&d, &s, &src, "both", timeout))
            .await
            .map_err(|e| fail(&format!("the backend `{}`", system.backend), e))?;
        let more = result.requires.clone().unwrap_or_default();
        let mut first = Some(result);
        let missing: Vec<String> = more
            .into_iter()
            .filter(|r| !satisfied(r, &installed))
            .collect();
        if !missing.is_empty() {
            let all: Vec<String> = system.requires.iter().cloned().chain(missing).collect();
            let preferred = installed
                .iter()
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect();
            let pins = self
                .resolve(&all, &target, &preferred)
                .await
                .map_err(|e| fail("resolving what get_requires_for_build_wheel asks for", e))?;
            let new: Vec<Pinned> = pins
                .iter()
                .filter(|p| {
                    !installed
                        .iter()
                        .any(|i| i.name == p.name && i.version == p.version)
                })
                .cloned()
                .collect();
            let wheels = self
                .download(&new, &dirs)
                .await
                .map_err(|e| fail("downloading its build requirements", e))?;
            let (p, d) = (python.clone(), dirs.clone());
            blocking(move || install(&p, &d, &wheels))
                .await
                .map_err(|e| fail("installing its build requirements", e))?;
            installed = pins;
            first = None;
        }

        let (d, s, src) = (dirs.clone(), system.clone(), source.clone());
        let text = blocking(move || {
            let result = match first {
                Some(HookResult {
                    error: Some(error), ..
                }) => return Err(error),
                Some(result) => result,
                None => run_hook(&d, &s, &src, "metadata", timeout)?,
            };
            match (result.metadata, result.wheel) {
                (Some(path), _) => std::fs::read_to_string(&path)
                    .map_err(|e| format!("the backend gave no {path}: {e}")),
                (None, Some(path)) => std::fs::read(&path)
                    .map_err(|e| format!("the backend gave no {path}: {e}"))
                    .and_then(|b| metadata::wheel_metadata(&b).map_err(|e| format!("{e:#}"))),
                (None, None) => Err("the backend gave neither metadata nor a wheel".to_string()),
            }
        })
        .await
        .map_err(|e| fail(&format!("the backend `{}`", system.backend), e))?;

        let requires: Vec<String> = installed
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        self.notes.lock().expect("not poisoned").push(format!(
            "built the metadata of {what} from {from} with {}; build requirements: {}",
            python.description,
            if requires.is_empty() {
                "none".to_string()
            } else {
                requires.join(", ")
            }
        ));
        Ok(text)
    }

    /// Pins `requires` for the build python: wheels only, newest first, `preferred` kept.
    async fn resolve(
        &self,
        requires: &[String],
        target: &Target,
        preferred: &HashMap<PackageName, Version>,
    ) -> Result<Vec<Pinned>, String> {
        if requires.is_empty() {
            return Ok(Vec::new());
        }
        let mut requirements = Vec::new();
        for r in requires {
            let requirement = crate::util::pep508::parse(r)
                .map_err(|e| format!("invalid build requirement `{r}`: {e}"))?;
            requirements.push(PipRequirement {
                requirement,
                hashes: Vec::new(),
                unnamed: false,
                location: Location {
                    file: PathBuf::from("pyproject.toml"),
                    line: 1,
                    column: 1,
                },
            });
        }
        let options = resolver::Options {
            pip: PipOptions {
                only_binary: BinaryChoice::All,
                ..PipOptions::default()
            },
            exclude_newer: self.options.exclude_newer,
            preferred: preferred.clone(),
            warnings: Default::default(),
        };
        resolver::resolve(
            self.client.clone(),
            &requirements,
            &[],
            target,
            &HashMap::new(),
            &options,
        )
        .await
        .map_err(|e| redact::text(&format!("{e:#}")))
    }

    /// Downloads `pins` (the index client checks each sha256) into the wheel directory: their
    /// paths.
    async fn download(&self, pins: &[Pinned], dirs: &WorkDirs) -> Result<Vec<PathBuf>, String> {
        std::fs::create_dir_all(&dirs.wheels).map_err(|e| e.to_string())?;
        let mut wheels = Vec::new();
        for pin in pins {
            // The index client checks the file's sha256 against the index's.
            let bytes = self
                .client
                .download(&pin.file)
                .await
                .map_err(|e| format!("{e:#}"))?;
            let path = dirs.wheels.join(&pin.file.filename);
            std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            wheels.push(path);
        }
        Ok(wheels)
    }
}

#[async_trait::async_trait]
impl SdistBuilder for Builder {
    async fn build_metadata(&self, file: &DistFile, bytes: Vec<u8>) -> anyhow::Result<String> {
        Ok(self.build(file, bytes).await?)
    }
}

/// Where under the PyPI cache local projects' metadata is kept, by [`local_cache_key`].
const LOCAL_METADATA_DIR: &str = "local-metadata-v1";

/// What a local project's metadata hook is run with, as far as envlock knows it.
#[derive(Clone, Copy)]
struct LocalKey<'a> {
    /// The project's directory, canonical.
    dir: &'a Path,
    /// The version of the python that runs the hook.
    python: &'a Version,
    /// This machine's platform, which the build environment is made for.
    host: &'a str,
    system: &'a BuildSystem,
    /// The cutoff the build requirements are resolved with.
    exclude_newer: Option<Timestamp>,
    /// Path relative to the project → sha256.
    build_inputs: &'a BTreeMap<String, String>,
    /// An in-tree backend's source files ([`in_tree_backend_files`]), path → sha256.
    backend_files: &'a BTreeMap<String, String>,
}

/// The most files of an in-tree backend [`in_tree_backend_files`] hashes, and the most bytes of
/// each.
const MAX_BACKEND_FILES: usize = 256;
const MAX_BACKEND_FILE_BYTES: u64 = 4 << 20;

/// For a backend the project carries (`backend-path`), the sha256 of each file of its module
/// (`<backend-path>/<module>.py`, or every file under `<backend-path>/<module>/`), by path
/// relative to `dir`: editing the backend changes what its hook answers. Paths outside `dir`
/// are passed over; past the limits, a file's length stands for its content.
fn in_tree_backend_files(dir: &Path, system: &BuildSystem) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let module = system
        .backend
        .split(':')
        .next()
        .unwrap_or_default()
        .trim()
        .split('.')
        .next()
        .unwrap_or_default();
    if module.is_empty() {
        return files;
    }
    let hash = |path: &Path, files: &mut BTreeMap<String, String>| {
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let value = if meta.len() <= MAX_BACKEND_FILE_BYTES {
            std::fs::read(path)
                .map(|b| crate::util::sha256_hex(&b))
                .unwrap_or_default()
        } else {
            format!("len {}", meta.len())
        };
        let shown = path.strip_prefix(dir).unwrap_or(path);
        files.insert(shown.to_string_lossy().into_owned(), value);
    };
    for entry in &system.backend_path {
        let Ok(root) = std::fs::canonicalize(dir.join(entry)) else {
            continue;
        };
        if !root.starts_with(dir) {
            continue;
        }
        let single = root.join(format!("{module}.py"));
        if single.is_file() {
            hash(&single, &mut files);
        }
        let package = root.join(module);
        if package.is_dir() {
            for file in walkdir_files(&package, MAX_BACKEND_FILES) {
                hash(&file, &mut files);
            }
        }
    }
    files
}

/// The regular files under `dir` (symlinks not followed), sorted, at most `limit`.
fn walkdir_files(dir: &Path, limit: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if entry.file_name() != "__pycache__" {
                    stack.push(entry.path());
                }
            } else if kind.is_file() {
                if out.len() == limit {
                    return out;
                }
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// The cache key of a local project's metadata: the sha256 of every part of `key`, one a line,
/// each string JSON-quoted so that no value can pass for another line.
fn local_cache_key(key: &LocalKey) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut text = String::from("envlock local project metadata v1\n");
    text.push_str(&format!("dir {}\n", quote(&key.dir.to_string_lossy())));
    text.push_str(&format!("python {}\n", key.python));
    text.push_str(&format!("host {}\n", quote(key.host)));
    text.push_str(&format!("backend {}\n", quote(&key.system.backend)));
    for path in &key.system.backend_path {
        text.push_str(&format!("backend-path {}\n", quote(path)));
    }
    for requirement in &key.system.requires {
        text.push_str(&format!("requires {}\n", quote(requirement)));
    }
    if let Some(cutoff) = key.exclude_newer {
        text.push_str(&format!("exclude-newer {cutoff}\n"));
    }
    for (path, sha256) in key.build_inputs {
        text.push_str(&format!("input {} {}\n", quote(path), quote(sha256)));
    }
    for (path, sha256) in key.backend_files {
        text.push_str(&format!("backend-file {} {}\n", quote(path), quote(sha256)));
    }
    crate::util::sha256_hex(text.as_bytes())
}

/// What a backend runs in.
enum Source {
    /// An sdist, unpacked into the build's temporary directory.
    Sdist { filename: String, bytes: Vec<u8> },
    /// A local project's directory, used in place.
    Dir(PathBuf),
}

/// The paths of one build, under a temporary directory.
#[derive(Debug, Clone)]
struct WorkDirs {
    unpacked: PathBuf,
    env: PathBuf,
    wheels: PathBuf,
    script: PathBuf,
    /// Where a hook writes its answer.
    out: PathBuf,
    /// Each step's output, overwritten by the next.
    log: PathBuf,
}

impl WorkDirs {
    fn new(root: &Path) -> WorkDirs {
        WorkDirs {
            unpacked: root.join("src"),
            env: root.join("env"),
            wheels: root.join("wheels"),
            script: root.join("hook").join("envlock_pep517_hook.py"),
            out: root.join("out"),
            log: root.join("log.txt"),
        }
    }

    fn env_python(&self) -> PathBuf {
        if cfg!(windows) {
            self.env.join("Scripts").join("python.exe")
        } else {
            self.env.join("bin").join("python")
        }
    }
}

/// Runs a blocking step on the blocking thread pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(format!("the build step panicked: {e}")))
}

/// `build-system` of `pyproject.toml`, with setuptools' legacy defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BuildSystem {
    pub(super) requires: Vec<String>,
    pub(super) backend: String,
    pub(super) backend_path: Vec<String>,
}

const LEGACY_BACKEND: &str = "setuptools.build_meta:__legacy__";

fn build_system(source: &Path) -> Result<BuildSystem, String> {
    build_system_of(
        std::fs::read_to_string(source.join("pyproject.toml"))
            .ok()
            .as_deref(),
    )
}

/// `build-system` of a `pyproject.toml` text (`None`: the sdist has none), with setuptools'
/// legacy defaults.
pub(super) fn build_system_of(pyproject: Option<&str>) -> Result<BuildSystem, String> {
    #[derive(Deserialize)]
    struct PyProject {
        #[serde(rename = "build-system")]
        build_system: Option<Table>,
    }
    #[derive(Deserialize)]
    struct Table {
        requires: Option<Vec<String>>,
        #[serde(rename = "build-backend")]
        build_backend: Option<String>,
        #[serde(rename = "backend-path", default)]
        backend_path: Vec<String>,
    }
    let legacy = || BuildSystem {
        requires: vec!["setuptools>=40.8.0".to_string()],
        backend: LEGACY_BACKEND.to_string(),
        backend_path: Vec::new(),
    };
    let Some(text) = pyproject else {
        return Ok(legacy());
    };
    let project: PyProject =
        toml::from_str(text).map_err(|e| format!("invalid pyproject.toml: {e}"))?;
    let Some(table) = project.build_system else {
        return Ok(legacy());
    };
    // PEP 517: without `build-backend`, the legacy setuptools backend with the given requires.
    Ok(BuildSystem {
        requires: table.requires.unwrap_or_else(|| legacy().requires),
        backend: table
            .build_backend
            .unwrap_or_else(|| LEGACY_BACKEND.to_string()),
        backend_path: table.backend_path,
    })
}

/// Unpacks an sdist into `into` and returns its source tree: the one top-level directory.
fn unpack(filename: &str, bytes: &[u8], into: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(into).map_err(|e| e.to_string())?;
    if filename.ends_with(".zip") {
        zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .and_then(|mut z| z.extract(into))
            .map_err(|e| format!("cannot unpack {filename}: {e}"))?;
    } else {
        tar::Archive::new(super::metadata::tar_stream(filename, bytes))
            .unpack(into)
            .map_err(|e| format!("cannot unpack {filename}: {e}"))?;
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(into)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    match entries.as_slice() {
        [only] if only.is_dir() => Ok(only.clone()),
        _ => Ok(into.to_path_buf()),
    }
}

/// Whether a requirement the backend asks for is met by what is installed.
fn satisfied(requirement: &str, installed: &[Pinned]) -> bool {
    let Ok(r) = Requirement::<pep508_rs::VerbatimUrl>::from_str(requirement) else {
        return false;
    };
    installed.iter().any(|p| {
        p.name == r.name
            && match &r.version_or_url {
                Some(VersionOrUrl::VersionSpecifier(s)) => s.contains(&p.version),
                Some(VersionOrUrl::Url(_)) => false,
                None => true,
            }
    })
}

#[derive(Deserialize)]
struct Probe {
    version: String,
    executable: PathBuf,
}

/// Runs `python` and asks for its version (and whether it has venv).
fn probe(python: &Path, timeout: Duration) -> Result<(PathBuf, Version), String> {
    let mut command = Command::new(python);
    command.args(["-c", PROBE_SCRIPT]);
    scrub(&mut command);
    let log = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    run(&mut command, "python", log.path(), timeout)
        .map_err(|e| format!("{e}{}", tail(log.path())))?;
    let text = std::fs::read_to_string(log.path()).map_err(|e| e.to_string())?;
    let probe: Probe = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("unexpected output: {}", text.trim()))?;
    let version = Version::from_str(&probe.version).map_err(|e| e.to_string())?;
    Ok((probe.executable, version))
}

/// Chooses the python that builds (see the module docs).
fn find_python(options: &BuildOptions) -> Result<BuildPython, BuildFailed> {
    let timeout = Duration::from_secs(30);
    let target = &options.target_python;
    let found = |path: PathBuf, version: Version, how: String| BuildPython {
        description: format!("{how} ({}, {version})", path.display()),
        path,
        version,
    };
    if let Some(explicit) = &options.python {
        return probe(explicit, timeout)
            .map(|(path, version)| found(path, version, "--build-python".to_string()))
            .map_err(|e| BuildFailed {
                message: format!(
                    "--build-python {} cannot build sdists: {e}",
                    explicit.display()
                ),
                hint: "pass a python 3 that has the venv module".to_string(),
            });
    }
    if let Some(prefix) = std::env::var_os("CONDA_PREFIX") {
        let python = PathBuf::from(prefix).join(if cfg!(windows) {
            "python.exe"
        } else {
            "bin/python"
        });
        if let Ok((path, version)) = probe(&python, timeout)
            && &version == target
        {
            return Ok(found(path, version, "the locked python".to_string()));
        }
    }
    let minor = match target.release() {
        [3, minor, ..] => Some(*minor),
        _ => None,
    };
    let mut tried = Vec::new();
    for name in minor
        .map(|m| format!("python3.{m}"))
        .into_iter()
        .chain(["python3".to_string()])
    {
        match probe(Path::new(&name), timeout) {
            Ok((path, version)) => {
                let how = if version.release().get(..2) == target.release().get(..2) {
                    format!("{name} on PATH")
                } else {
                    format!("{name} on PATH; the lock targets {target}")
                };
                return Ok(found(path, version, how));
            }
            Err(e) => tried.push(format!("{name}: {}", e.lines().next().unwrap_or_default())),
        }
    }
    Err(BuildFailed {
        message: format!(
            "no python with the venv module to build sdists with ({})",
            tried.join("; ")
        ),
        hint: match minor {
            Some(m) => format!("install python3.{m} (with venv), or pass `--build-python PATH`"),
            None => "pass `--build-python PATH`".to_string(),
        },
    })
}

/// Removes what would let the environment change where pip and python look for packages.
fn scrub(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("PIP_") || key_text.starts_with("UV_") {
            command.env_remove(&key);
        }
    }
    command
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONSTARTUP")
        .env("PYTHONNOUSERSITE", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env("PIP_NO_INDEX", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .env(
            "PIP_CONFIG_FILE",
            if cfg!(windows) { "nul" } else { "/dev/null" },
        )
        .env("UV_OFFLINE", "1")
        .stdin(Stdio::null());
}

/// A fresh venv without pip (envlock installs the build requirements itself). On POSIX it is
/// written directly, as `python -m venv --without-pip --symlinks` writes it (`pyvenv.cfg`,
/// `bin/python*` links to the build python, an empty `site-packages`), which saves starting
/// python for it; elsewhere `python -m venv` makes it.
fn create_env(python: &BuildPython, dirs: &WorkDirs, timeout: Duration) -> Result<(), String> {
    if cfg!(unix)
        && let [major, minor, ..] = python.version.release()
        && let Some(home) = python.path.parent()
    {
        let io = |e: std::io::Error| format!("writing the venv {}: {e}", dirs.env.display());
        std::fs::create_dir_all(site_packages(&dirs.env, *major, *minor)).map_err(io)?;
        let bin = dirs.env.join("bin");
        std::fs::create_dir_all(&bin).map_err(io)?;
        #[cfg(unix)]
        for name in [
            "python".to_string(),
            format!("python{major}"),
            format!("python{major}.{minor}"),
        ] {
            std::os::unix::fs::symlink(&python.path, bin.join(name)).map_err(io)?;
        }
        let cfg = format!(
            "home = {}\ninclude-system-site-packages = false\nversion = {}\nexecutable = {}\n",
            home.display(),
            python.version,
            python.path.display()
        );
        return std::fs::write(dirs.env.join("pyvenv.cfg"), cfg).map_err(io);
    }
    let mut command = Command::new(&python.path);
    command.args(["-m", "venv", "--without-pip"]);
    command.arg(&dirs.env);
    scrub(&mut command);
    run(&mut command, "python -m venv", &dirs.log, timeout)
        .map_err(|e| format!("{e}{}", tail(&dirs.log)))
}

/// A venv's `site-packages` on POSIX.
fn site_packages(env: &Path, major: u64, minor: u64) -> PathBuf {
    env.join("lib")
        .join(format!("python{major}.{minor}"))
        .join("site-packages")
}

/// Unpacks the (hash-checked) wheels into the venv (see [`super::wheel_install`]).
fn install(python: &BuildPython, dirs: &WorkDirs, wheels: &[PathBuf]) -> Result<(), String> {
    let site_packages = if cfg!(windows) {
        dirs.env.join("Lib").join("site-packages")
    } else {
        let [major, minor, ..] = python.version.release() else {
            return Err(format!("python {} has no minor version", python.version));
        };
        site_packages(&dirs.env, *major, *minor)
    };
    if !site_packages.is_dir() {
        return Err(format!(
            "the venv has no {}",
            site_packages
                .strip_prefix(&dirs.env)
                .unwrap_or(&site_packages)
                .display()
        ));
    }
    let python_path = dirs.env_python();
    let scheme = super::wheel_install::Scheme {
        site_packages,
        scripts: python_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        python: python_path,
    };
    for wheel in wheels {
        super::wheel_install::install(wheel, &scheme)?;
    }
    Ok(())
}

/// The metadata hook, as messages name it.
const METADATA_HOOK: &str = "prepare_metadata_for_build_wheel (or build_wheel)";

#[derive(Deserialize, Default)]
struct HookResult {
    requires: Option<Vec<String>>,
    metadata: Option<String>,
    wheel: Option<String>,
    /// In the `both` mode: how the metadata hook failed after `requires` answered.
    #[serde(skip)]
    error: Option<String>,
}

/// Runs one hook (`requires` or `metadata`) of the backend in the source tree.
fn run_hook(
    dirs: &WorkDirs,
    system: &BuildSystem,
    source: &Path,
    hook: &str,
    timeout: Duration,
) -> Result<HookResult, String> {
    let _ = std::fs::remove_dir_all(&dirs.out);
    std::fs::create_dir_all(&dirs.out).map_err(|e| e.to_string())?;
    let backend_path = serde_json::to_string(&system.backend_path).map_err(|e| e.to_string())?;
    let mut command = Command::new(dirs.env_python());
    command
        .arg(&dirs.script)
        .arg(&system.backend)
        .arg(backend_path)
        .arg(hook)
        .arg(&dirs.out)
        .current_dir(source);
    scrub(&mut command);
    // The build environment's scripts come first, as in pip's isolated builds.
    let bin = dirs.env_python().parent().map(Path::to_path_buf);
    if let Some(bin) = bin {
        let mut paths = vec![bin];
        paths.extend(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths),
        );
        if let Ok(joined) = std::env::join_paths(paths) {
            command.env("PATH", joined);
        }
    }
    command.env("VIRTUAL_ENV", &dirs.env);
    let what = match hook {
        "requires" | "both" => "get_requires_for_build_wheel",
        _ => METADATA_HOOK,
    };
    if let Err(e) = run(&mut command, what, &dirs.log, timeout) {
        let error = format!("{e}{}", tail(&dirs.log));
        // `both`: the requirements were answered, the metadata hook failed.
        let answered = (hook == "both")
            .then(|| std::fs::read_to_string(dirs.out.join("result.json")).ok())
            .flatten()
            .and_then(|text| serde_json::from_str::<HookResult>(&text).ok())
            .filter(|r| r.requires.is_some());
        return match answered {
            Some(result) => Ok(HookResult {
                error: Some(error.replacen(what, METADATA_HOOK, 1)),
                ..result
            }),
            None => Err(error),
        };
    }
    let text = std::fs::read_to_string(dirs.out.join("result.json"))
        .map_err(|e| format!("the hook wrote no result: {e}{}", tail(&dirs.log)))?;
    serde_json::from_str(&text).map_err(|e| format!("the hook's result is not valid: {e}"))
}

/// Runs `command` (`what`, for messages) with its output into `log`, killing it after
/// `timeout`.
fn run(command: &mut Command, what: &str, log: &Path, timeout: Duration) -> Result<(), String> {
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    command.stdout(out).stderr(err);
    let program = command.get_program().to_string_lossy().into_owned();
    // Its own process group: a timeout or an interrupt ends what it started too.
    let mut group = crate::util::process::spawn(command)
        .map_err(|e| format!("could not run {program}: {e}"))?;
    let program = what;
    let started = Instant::now();
    loop {
        match group.child().try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{program} failed ({status})")),
            Ok(None) if started.elapsed() > timeout => {
                group.kill();
                return Err(format!(
                    "{program} did not finish within {} s",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    }
}

/// The last lines of a step's output, redacted, as an indented block (empty when there are
/// none).
fn tail(log: &Path) -> String {
    let text = std::fs::read(log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(TAIL_LINES);
    let mut out = String::from("; its last output:");
    for line in &lines[start..] {
        out.push_str("\n    ");
        out.push_str(&redact::text(line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, body) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        dir
    }

    #[test]
    fn build_system_defaults_to_legacy_setuptools() {
        let legacy = BuildSystem {
            requires: vec!["setuptools>=40.8.0".to_string()],
            backend: LEGACY_BACKEND.to_string(),
            backend_path: vec![],
        };
        assert_eq!(build_system(tree(&[]).path()).unwrap(), legacy);
        let no_table = tree(&[("pyproject.toml", "[tool.black]\nline-length = 100\n")]);
        assert_eq!(build_system(no_table.path()).unwrap(), legacy);
        let no_backend = tree(&[(
            "pyproject.toml",
            "[build-system]\nrequires = [\"setuptools\", \"cython\"]\n",
        )]);
        let s = build_system(no_backend.path()).unwrap();
        assert_eq!(s.requires, ["setuptools", "cython"]);
        assert_eq!(s.backend, LEGACY_BACKEND);
        let full = tree(&[(
            "pyproject.toml",
            "[build-system]\nrequires = [\"hatchling>=1\"]\nbuild-backend = \"hatchling.build\"\nbackend-path = [\".\"]\n",
        )]);
        let s = build_system(full.path()).unwrap();
        assert_eq!(s.requires, ["hatchling>=1"]);
        assert_eq!(s.backend, "hatchling.build");
        assert_eq!(s.backend_path, ["."]);
        let bad = tree(&[("pyproject.toml", "[build-system\n")]);
        assert!(
            build_system(bad.path())
                .unwrap_err()
                .contains("invalid pyproject.toml")
        );
    }

    #[test]
    fn unpacks_tar_gz_and_zip_to_their_top_directory() {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "a-1.0/setup.py", &b"#\n"[..])
            .unwrap();
        let bytes = tar.into_inner().unwrap().finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let source = unpack("a-1.0.tar.gz", &bytes, &dir.path().join("x")).unwrap();
        assert!(source.ends_with("a-1.0") && source.join("setup.py").is_file());

        let mut buf = std::io::Cursor::new(Vec::new());
        {
            use std::io::Write;
            let mut zip = zip::ZipWriter::new(&mut buf);
            zip.start_file("b-2.0/setup.py", zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(b"#\n").unwrap();
            zip.finish().unwrap();
        }
        let source = unpack("b-2.0.zip", buf.get_ref(), &dir.path().join("y")).unwrap();
        assert!(source.ends_with("b-2.0") && source.join("setup.py").is_file());
    }

    #[test]
    fn the_local_cache_key_changes_with_each_part() {
        let system = BuildSystem {
            requires: vec!["setuptools>=40.8.0".to_string()],
            backend: LEGACY_BACKEND.to_string(),
            backend_path: vec![],
        };
        let inputs: BTreeMap<String, String> = [("setup.py".to_string(), "a".repeat(64))].into();
        let python = Version::from_str("3.11.7").unwrap();
        let base = LocalKey {
            dir: Path::new("/p/app"),
            python: &python,
            host: "linux-64",
            system: &system,
            exclude_newer: None,
            build_inputs: &inputs,
            backend_files: &BTreeMap::new(),
        };
        let key = local_cache_key(&base);
        assert_eq!(key.len(), 64);
        assert_eq!(key, local_cache_key(&base), "deterministic");
        let other_python = Version::from_str("3.12.1").unwrap();
        let other_system = BuildSystem {
            requires: vec!["setuptools>=70".to_string()],
            ..system.clone()
        };
        let other_backend = BuildSystem {
            backend: "setuptools.build_meta".to_string(),
            ..system.clone()
        };
        let edited: BTreeMap<String, String> = [("setup.py".to_string(), "b".repeat(64))].into();
        let more: BTreeMap<String, String> = [
            ("setup.py".to_string(), "a".repeat(64)),
            ("setup.cfg".to_string(), "c".repeat(64)),
        ]
        .into();
        let cutoff: Timestamp = "2024-06-01T00:00:00Z".parse().unwrap();
        let backend: BTreeMap<String, String> = [("backend.py".to_string(), "d".repeat(64))].into();
        let variants = [
            LocalKey {
                dir: Path::new("/p/other"),
                ..base
            },
            LocalKey {
                python: &other_python,
                ..base
            },
            LocalKey {
                host: "osx-arm64",
                ..base
            },
            LocalKey {
                system: &other_system,
                ..base
            },
            LocalKey {
                system: &other_backend,
                ..base
            },
            LocalKey {
                exclude_newer: Some(cutoff),
                ..base
            },
            LocalKey {
                build_inputs: &edited,
                ..base
            },
            LocalKey {
                build_inputs: &more,
                ..base
            },
            LocalKey {
                backend_files: &backend,
                ..base
            },
        ];
        let mut keys: Vec<String> = variants.iter().map(local_cache_key).collect();
        keys.push(key);
        let count = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), count, "every part changes the key");
    }

    #[test]
    fn an_in_tree_backends_files_are_hashed() {
        let dir = tree(&[
            ("backend.py", "def x(): pass\n"),
            ("tools/pkg/__init__.py", "\n"),
            ("tools/pkg/hooks.py", "\n"),
            ("tools/pkg/__pycache__/hooks.pyc", "x"),
            ("tools/other.py", "\n"),
        ]);
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let system = |backend: &str, path: &[&str]| BuildSystem {
            requires: vec![],
            backend: backend.to_string(),
            backend_path: path.iter().map(ToString::to_string).collect(),
        };
        let files = in_tree_backend_files(&root, &system("backend", &["."]));
        assert_eq!(files.keys().collect::<Vec<_>>(), ["backend.py"]);
        let files = in_tree_backend_files(&root, &system("pkg.hooks:api", &["tools"]));
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            ["tools/pkg/__init__.py", "tools/pkg/hooks.py"]
        );
        // Not in-tree, or a path out of the project: nothing.
        assert!(in_tree_backend_files(&root, &system("backend", &[])).is_empty());
        assert!(in_tree_backend_files(&root, &system("backend", &[".."])).is_empty());
    }

    #[test]
    fn tails_keep_the_last_lines_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        text.push_str("fetching https://user:secret@example.com/simple/\n");
        std::fs::write(&log, text).unwrap();
        let t = tail(&log);
        assert!(!t.contains("line 11\n") && t.contains("line 12"), "{t}");
        assert!(!t.contains("secret"), "{t}");
        assert_eq!(tail(&dir.path().join("missing")), "");
    }
}
