//! `envlock resolve` with sdists whose dependencies are only known after a build: envlock runs
//! their PEP 517 backend in an isolated venv, with build requirements it resolves and installs
//! itself from the index, as pip and uv do.
//!
//! The index is built here and served on 127.0.0.1: the test sdists, tiny wheels, and real
//! setuptools and wheel wheels for the build environments, copied from this machine's Python
//! installations (the wheels ensurepip bundles, the ones CPython's test suite ships, Debian's
//! `/usr/share/python-wheels`); no test needs the network. The builds run with this machine's
//! python3.11 (the `pyconda` fixture's python is 3.11.7). Without such a python, or without
//! the wheels, the tests say so and pass, except under `CI=true`, where they fail.

mod common;

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use common::{Mode, Server, envlock, fails, fixture_channels, ok};
use rattler_conda_lock::{LockFile, Manager};

/// Says why a test cannot run, and fails under CI.
fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}, and CI=true requires it");
    }
    eprintln!("skipping: {why}");
}

/// Whether `python3.11` (else `python3`) runs with the venv module, as builds need.
fn have_python() -> bool {
    ["python3.11", "python3"].iter().any(|p| {
        Command::new(p)
            .args(["-c", "import venv, pip"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The newest real `setuptools` and `wheel` wheels on this machine: in `$ENVLOCK_TEST_WHEELS`,
/// Debian's `/usr/share/python-wheels`, and the standard libraries of python3 and the Python
/// installations beside it (pyenv's versions, `/usr/lib/python3.*`).
fn build_wheels() -> Option<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("ENVLOCK_TEST_WHEELS")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    dirs.push(PathBuf::from("/usr/share/python-wheels"));
    let mut stdlibs = Vec::new();
    for python in ["python3.11", "python3"] {
        let out = Command::new(python)
            .args([
                "-c",
                "import sysconfig; print(sysconfig.get_path('stdlib'))",
            ])
            .output();
        if let Ok(out) = out
            && out.status.success()
        {
            let stdlib = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            // `<installations>/<one>/lib/python3.X`: look at every installation there.
            if let Some(installations) = stdlib.ancestors().nth(3)
                && let Ok(entries) = std::fs::read_dir(installations)
            {
                for lib in entries.flatten().map(|e| e.path().join("lib")) {
                    if let Ok(pythons) = std::fs::read_dir(&lib) {
                        stdlibs.extend(pythons.flatten().map(|p| p.path()));
                    }
                }
            }
            stdlibs.push(stdlib);
        }
    }
    for stdlib in stdlibs {
        dirs.push(stdlib.join("ensurepip/_bundled"));
        dirs.push(stdlib.join("test"));
        dirs.push(stdlib.join("test/wheeldata"));
    }
    let mut best: BTreeMap<&str, (Vec<u64>, PathBuf)> = BTreeMap::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            for project in ["setuptools", "wheel"] {
                let Some(rest) = name.strip_prefix(&format!("{project}-")) else {
                    continue;
                };
                if !name.ends_with("-none-any.whl") {
                    continue;
                }
                let version: Vec<u64> = rest
                    .split('-')
                    .next()
                    .unwrap_or_default()
                    .split('.')
                    .map(|p| p.parse().unwrap_or(0))
                    .collect();
                // setuptools 61 reads PEP 621 metadata; 62.6 its `dynamic` files.
                if project == "setuptools" && version < vec![62, 6] {
                    continue;
                }
                if best.get(project).is_none_or(|(v, _)| *v < version) {
                    best.insert(project, (version, entry.path()));
                }
            }
        }
    }
    (best.len() == 2).then(|| best.into_values().map(|(_, p)| p).collect())
}

/// A PEP 691 index of whole files, laid out under `dir` (`simple/<name>/`, `files/`).
struct Index {
    dir: PathBuf,
    files: BTreeMap<String, Vec<(String, Vec<u8>, String)>>,
}

impl Index {
    fn new(dir: &Path) -> Index {
        Index {
            dir: dir.to_path_buf(),
            files: BTreeMap::new(),
        }
    }

    fn add(&mut self, project: &str, filename: &str, bytes: Vec<u8>, uploaded: &str) {
        self.files.entry(project.to_string()).or_default().push((
            filename.to_string(),
            bytes,
            uploaded.to_string(),
        ));
    }

    /// A real wheel file, named as it is.
    fn real_wheel(&mut self, path: &Path) {
        let filename = path.file_name().unwrap().to_string_lossy().into_owned();
        let project = filename.split('-').next().unwrap().to_string();
        self.add(
            &project,
            &filename,
            std::fs::read(path).unwrap(),
            "2023-01-01T00:00:00Z",
        );
    }

    /// A tiny pure wheel with these `Requires-Dist`.
    fn wheel(&mut self, name: &str, version: &str, requires: &[&str], uploaded: &str) {
        self.wheel_tagged(name, version, "py3-none-any", "", requires, uploaded);
    }

    /// A tiny wheel tagged `tag` (`cp27-cp27mu-manylinux1_x86_64`), whose METADATA has the
    /// header lines `headers` and these `Requires-Dist`.
    fn wheel_tagged(
        &mut self,
        name: &str,
        version: &str,
        tag: &str,
        headers: &str,
        requires: &[&str],
        uploaded: &str,
    ) {
        let stem = format!("{}-{version}", name.replace('-', "_"));
        let dist_info = format!("{stem}.dist-info");
        let mut metadata =
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{headers}");
        for r in requires {
            metadata.push_str(&format!("Requires-Dist: {r}\n"));
        }
        let files = [
            (format!("{name}.py"), String::new()),
            (format!("{dist_info}/METADATA"), metadata),
            (
                format!("{dist_info}/WHEEL"),
                format!("Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n"),
            ),
            (format!("{dist_info}/RECORD"), String::new()),
        ];
        let bytes = zip_bytes(
            &files
                .iter()
                .map(|(p, b)| (p.as_str(), b.as_str()))
                .collect::<Vec<_>>(),
        );
        self.add(name, &format!("{stem}-{tag}.whl"), bytes, uploaded);
    }

    /// An sdist `<name>-<version>.tar.gz` holding `files` under its top directory.
    fn sdist(&mut self, name: &str, version: &str, files: &[(&str, &str)], uploaded: &str) {
        let top = format!("{name}-{version}");
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (path, body) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            tar.append_data(&mut header, format!("{top}/{path}"), body.as_bytes())
                .unwrap();
        }
        let bytes = tar.into_inner().unwrap().finish().unwrap();
        self.add(name, &format!("{top}.tar.gz"), bytes, uploaded);
    }

    fn write(&self) {
        let files_dir = self.dir.join("files");
        std::fs::create_dir_all(&files_dir).unwrap();
        for (project, files) in &self.files {
            let mut entries = Vec::new();
            for (filename, bytes, uploaded) in files {
                std::fs::write(files_dir.join(filename), bytes).unwrap();
                entries.push(serde_json::json!({
                    "filename": filename,
                    "url": format!("../../files/{filename}"),
                    "hashes": {"sha256": sha256(bytes)},
                    "upload-time": uploaded,
                    "size": bytes.len(),
                }));
            }
            let dir = self.dir.join("simple").join(project);
            std::fs::create_dir_all(&dir).unwrap();
            let page = serde_json::json!({"meta": {"api-version": "1.1"}, "name": project, "files": entries});
            std::fs::write(dir.join("index.json"), page.to_string()).unwrap();
        }
    }
}

fn zip_bytes(files: &[(&str, &str)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default();
        for (path, body) in files {
            zip.start_file(*path, options).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
    }
    buf.into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(bytes))
}

/// An old-style sdist: `setup.py` only, and a PKG-INFO (Metadata-Version 1.0) without
/// dependencies, like `retrying 1.3.3`.
fn legacy_sdist(index: &mut Index, name: &str, version: &str, requires: &[&str]) {
    let setup = format!(
        "from setuptools import setup\nsetup(name={name:?}, version={version:?}, py_modules=[], install_requires={requires:?})\n"
    );
    let pkg_info = format!("Metadata-Version: 1.0\nName: {name}\nVersion: {version}\n");
    index.sdist(
        name,
        version,
        &[("setup.py", &setup), ("PKG-INFO", &pkg_info)],
        "2024-01-01T00:00:00Z",
    );
}

/// A PEP 621 sdist whose dependencies are `dynamic`, read by setuptools from a file.
fn dynamic_sdist(index: &mut Index, name: &str, version: &str, requires: &str) {
    let pyproject = format!(
        "[build-system]\nrequires = [\"setuptools>=62.6\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = {name:?}\nversion = {version:?}\ndynamic = [\"dependencies\"]\n\n\
         [tool.setuptools]\npy-modules = []\n\n\
         [tool.setuptools.dynamic]\ndependencies = {{file = [\"requirements.in\"]}}\n"
    );
    let pkg_info = format!(
        "Metadata-Version: 2.2\nName: {name}\nVersion: {version}\nDynamic: Requires-Dist\n"
    );
    index.sdist(
        name,
        version,
        &[
            ("pyproject.toml", &pyproject),
            ("requirements.in", requires),
            ("PKG-INFO", &pkg_info),
        ],
        "2024-01-01T00:00:00Z",
    );
}

/// An sdist whose in-tree backend fails, as a build missing a system header does.
fn broken_sdist(index: &mut Index, name: &str, version: &str, uploaded: &str) {
    let backend = "import sys\n\n\
        def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):\n\
        \x20   for i in range(30):\n\
        \x20       print('compiling step', i)\n\
        \x20   print('fatal error: frobnicator.h: No such file or directory', file=sys.stderr)\n\
        \x20   raise SystemExit(1)\n\n\
        def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n\
        \x20   raise SystemExit(1)\n";
    index.sdist(
        name,
        version,
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"broken_backend\"\nbackend-path = [\".\"]\n",
            ),
            ("broken_backend.py", backend),
        ],
        uploaded,
    );
}

struct Project {
    dir: tempfile::TempDir,
    server: Server,
}

impl Project {
    /// A project whose index has the build wheels and what `build` adds; `None` (after saying
    /// why) when this machine cannot build.
    fn new(build: impl FnOnce(&mut Index)) -> Option<Project> {
        if !have_python() {
            skip("no python3.11 or python3 with venv and pip");
            return None;
        }
        let Some(wheels) = build_wheels() else {
            skip("no setuptools (>= 62.6) and wheel wheels on this machine");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::new(&dir.path().join("index"));
        for wheel in &wheels {
            index.real_wheel(wheel);
        }
        build(&mut index);
        index.write();
        let server = Server::start(&dir.path().join("index"), Mode::Files);
        Some(Project { dir, server })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// `envlock check requirements.txt` in the project.
    fn check(&self) -> Output {
        envlock(&self.path("cache"))
            .current_dir(self.dir.path())
            .args(["check", "requirements.txt"])
            .output()
            .unwrap()
    }

    fn resolve_with(&self, index_url: &str, args: &[&str]) -> Output {
        envlock(&self.path("cache"))
            .current_dir(self.dir.path())
            .args([
                "resolve",
                "requirements.txt",
                "--index-url",
                index_url,
                "-c",
            ])
            .arg(fixture_channels().join("pyconda"))
            .args(["--python", "3.11", "-p", "linux-64"])
            .args(args)
            .output()
            .unwrap()
    }

    fn resolve(&self, args: &[&str]) -> Output {
        self.resolve_with(&format!("{}/simple/", self.server.url), args)
    }

    /// Asserts `stderr` against the snapshot `name`, with what depends on this machine or run
    /// filtered: the temp dir, the server's port, the build's python, its build requirements'
    /// versions (those of the wheels found here), temp build dirs and timings.
    fn assert_output(&self, name: &str, stderr: &str) {
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(true);
        for dir in [
            self.dir.path().to_path_buf(),
            self.dir.path().canonicalize().unwrap(),
        ] {
            settings.add_filter(
                &common::snapshot::escape(&dir.display().to_string()),
                "[TEMP]",
            );
        }
        settings.add_filter(r"127\.0\.0\.1:\d+", "[SERVER]");
        settings.add_filter(r"with python\S* on PATH \([^)]*\)", "with [BUILD PYTHON]");
        settings.add_filter(r"setuptools [0-9][^,;\s]*", "setuptools [VERSION]");
        settings.add_filter(r"wheel [0-9][^,;\s]*", "wheel [VERSION]");
        settings.add_filter(r"/tmp/envlock-build-[\w-]+", "[BUILD DIR]");
        settings.add_filter(r"in \d+\.\d+s", "in [TIME]");
        settings.bind(|| insta::assert_snapshot!(name, stderr));
    }

    fn lock(&self) -> LockFile {
        envlock::lock::read(&self.path("conda-lock.yml")).unwrap()
    }

    /// The `*.built.txt` metadata in the cache.
    fn built(&self) -> Vec<String> {
        let dir = self.path("cache/pypi/metadata-v1");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".built.txt"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

fn pip_set(lock: &LockFile) -> Vec<String> {
    let mut v: Vec<String> = lock
        .package
        .iter()
        .filter(|p| p.manager == Manager::Pip && p.category == "main")
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect();
    v.sort();
    v
}

#[test]
fn legacy_and_dynamic_sdists_lock_with_their_built_dependencies() {
    let Some(p) = Project::new(|i| {
        legacy_sdist(i, "oldstyle", "1.3.3", &["dep-a>=1"]);
        dynamic_sdist(i, "dynpkg", "1.0", "dep-b<2\n");
        i.wheel("dep-a", "1.0", &[], "2024-01-01T00:00:00Z");
        i.wheel("dep-b", "1.0", &[], "2024-01-01T00:00:00Z");
        i.wheel("dep-b", "2.0", &[], "2024-01-01T00:00:00Z");
    }) else {
        return;
    };
    p.write("requirements.txt", "oldstyle\ndynpkg\n");
    let err = ok(p.resolve(&["--exclude-newer", "2024-06-01"]));
    assert_eq!(
        pip_set(&p.lock()),
        ["dep-a==1.0", "dep-b==1.0", "dynpkg==1.0", "oldstyle==1.3.3"],
        "{err}"
    );
    // Each build says which python ran it and what it was built with (the two builds may
    // finish in either order).
    let mut lines: Vec<&str> = err.lines().collect();
    lines.sort();
    p.assert_output("built_notes", &lines.join("\n"));
    let oldstyle = p
        .lock()
        .package
        .into_iter()
        .find(|p| p.name == "oldstyle")
        .unwrap();
    assert!(
        oldstyle.url.ends_with("oldstyle-1.3.3.tar.gz"),
        "{}",
        oldstyle.url
    );
    assert_eq!(oldstyle.dependencies["dep-a"], ">=1");
    assert_eq!(p.built().len(), 2);

    // Warm: the built metadata is cached by the sdists' sha256, so nothing is built again,
    // even when solving from scratch.
    let err = ok(p.resolve(&["--exclude-newer", "2024-06-01", "--update-all"]));
    p.assert_output("warm_builds_nothing", &err);
    assert_eq!(
        pip_set(&p.lock()),
        ["dep-a==1.0", "dep-b==1.0", "dynpkg==1.0", "oldstyle==1.3.3"]
    );
}

#[test]
fn a_failed_build_says_what_failed_and_what_to_do_without_credentials() {
    let Some(p) = Project::new(|i| broken_sdist(i, "broken", "1.0", "2024-01-01T00:00:00Z")) else {
        return;
    };
    p.write("requirements.txt", "broken\n");
    let index = p
        .server
        .url
        .replace("http://", "http://envuser:s3cr3t-token@");
    let err = fails(p.resolve_with(&format!("{index}/simple/"), &[]));
    // The package, its backend, the backend's last lines (not all of them), what to do; and no
    // credentials.
    p.assert_output("failed_build", &err);
    assert!(!err.contains("s3cr3t"), "{err}");
    for entry in common::files_under(&p.path("cache")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cr3t"),
            "{} holds the credentials",
            entry.display()
        );
    }
    assert!(p.built().is_empty());
}

#[test]
fn a_version_whose_sdist_fails_to_build_is_skipped_for_an_older_wheel() {
    let Some(p) = Project::new(|i| {
        i.wheel("flaky", "1.0", &["dep-a"], "2024-01-01T00:00:00Z");
        broken_sdist(i, "flaky", "2.0", "2024-03-01T00:00:00Z");
        // Newer than the cutoff: not a candidate.
        i.wheel("flaky", "3.0", &[], "2024-09-01T00:00:00Z");
        i.wheel("dep-a", "1.0", &[], "2024-01-01T00:00:00Z");
    }) else {
        return;
    };
    p.write("requirements.txt", "flaky\n");
    let err = ok(p.resolve(&["--exclude-newer", "2024-06-01"]));
    assert_eq!(pip_set(&p.lock()), ["dep-a==1.0", "flaky==1.0"], "{err}");

    // When the answer needs that version, its build failure is the error.
    p.write("requirements.txt", "flaky>=2\n");
    let err = fails(p.resolve(&["--exclude-newer", "2024-06-01"]));
    p.assert_output("needed_version_fails_to_build", &err);
}

/// A version whose only file for the target is an sdist that cannot be built here (its backend
/// fails, as numpy 1.19's does on Python 3.12), but that has wheels for another python: its
/// dependencies come from such a wheel's METADATA, as uv takes them, so nothing is built at
/// resolve time; the sdist is what is locked, and the image builds it.
#[test]
fn an_sdist_whose_version_has_wheels_elsewhere_takes_their_dependencies_without_a_build() {
    let Some(p) = Project::new(|i| {
        broken_sdist(i, "oldpin", "1.0", "2024-01-01T00:00:00Z");
        // For Python 2.7 only: not installable on the target, but its METADATA is the version's.
        i.wheel_tagged(
            "oldpin",
            "1.0",
            "cp27-cp27mu-manylinux1_x86_64",
            "",
            &["dep-a>=1"],
            "2024-01-01T00:00:00Z",
        );
        i.wheel("dep-a", "1.0", &[], "2024-01-01T00:00:00Z");
    }) else {
        return;
    };
    p.write("requirements.txt", "oldpin==1.0\n");
    let out = ok(p.resolve(&["--exclude-newer", "2024-06-01"]));
    assert_eq!(pip_set(&p.lock()), ["dep-a==1.0", "oldpin==1.0"], "{out}");
    assert!(p.built().is_empty(), "a backend ran: {:?}", p.built());
    let lock = p.lock();
    let oldpin = lock.package.iter().find(|p| p.name == "oldpin").unwrap();
    assert!(oldpin.url.ends_with("/oldpin-1.0.tar.gz"), "{}", oldpin.url);
    assert!(
        out.contains("the image builds oldpin 1.0 from its sdist"),
        "{out}"
    );
}

/// An sdist whose PKG-INFO is too old to be static (Metadata-Version 2.1, as meson-python
/// wrote apexpy 2.0.1's) but whose pyproject.toml lists its dependencies statically in
/// `[project]` is read from there without a build, as uv reads it (its version `dynamic`: the
/// index's); one whose `[project]` lists them as `dynamic` is built.
#[test]
fn an_sdist_with_static_project_dependencies_needs_no_build() {
    let backend =
        "def prepare_metadata_for_build_wheel(d, config_settings=None):\n    raise SystemExit(1)\n";
    let Some(p) = Project::new(|i| {
        for (name, dynamic) in [
            ("mesonish", "[\"version\"]"),
            ("dynamish", "[\"version\", \"dependencies\"]"),
        ] {
            i.sdist(
                name,
                "2.0.1",
                &[
                    (
                        "PKG-INFO",
                        &format!("Metadata-Version: 2.1\nName: {name}\nVersion: 2.0.1\nRequires-Dist: dep-a\n"),
                    ),
                    (
                        "pyproject.toml",
                        &format!(
                            "[build-system]\nrequires = []\nbuild-backend = \"broken_backend\"\nbackend-path = [\".\"]\n\n\
                             [project]\nname = \"{name}\"\nrequires-python = \">=3.7\"\ndependencies = [\"dep-a>=1\"]\n\
                             dynamic = {dynamic}\n\n[project.optional-dependencies]\nfast = [\"dep-b; python_version > '3'\"]\n"
                        ),
                    ),
                    ("broken_backend.py", backend),
                ],
                "2024-01-01T00:00:00Z",
            );
        }
        i.wheel("dep-a", "1.0", &[], "2024-01-01T00:00:00Z");
        i.wheel("dep-b", "1.0", &[], "2024-01-01T00:00:00Z");
    }) else {
        return;
    };
    p.write("requirements.txt", "mesonish[fast]==2.0.1\n");
    let out = ok(p.resolve(&["--exclude-newer", "2024-06-01"]));
    assert_eq!(
        pip_set(&p.lock()),
        ["dep-a==1.0", "dep-b==1.0", "mesonish==2.0.1"],
        "{out}"
    );
    // Dynamic dependencies are what the backend says: it runs, and fails (so the lock above
    // was made without running it).
    p.write("requirements.txt", "dynamish==2.0.1\n");
    let err = fails(p.resolve(&["--exclude-newer", "2024-06-01"]));
    assert!(
        err.contains("its metadata could not be built from its sdist"),
        "{err}"
    );
}

/// An interrupted resolve (SIGTERM, as a CI job's timeout sends) in the middle of a build ends
/// the backend and what it started, removes the build directory and exits 130; nothing keeps
/// running or stays in the temporary directory.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupted_build_leaves_no_process_and_no_directory() {
    let Some(p) = Project::new(|_| {}) else {
        return;
    };
    let marker = p.path("backend-started");
    let backend = format!(
        "import subprocess, time\n\
         def prepare_metadata_for_build_wheel(d, config_settings=None):\n    \
             child = subprocess.Popen(['sleep', '120'])\n    \
             open({marker:?}, 'w').write(str(child.pid))\n    \
             time.sleep(120)\n",
        marker = marker.display().to_string()
    );
    // The index is written before this sdist exists: serve a second one beside it.
    let mut index = Index::new(&p.path("slow-index"));
    for wheel in build_wheels().unwrap() {
        index.real_wheel(&wheel);
    }
    index.sdist(
        "slowbuild",
        "1.0",
        &[
            ("PKG-INFO", "Metadata-Version: 2.1\nName: slowbuild\nVersion: 1.0\n"),
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"slow_backend\"\nbackend-path = [\".\"]\n",
            ),
            ("slow_backend.py", &backend),
        ],
        "2024-01-01T00:00:00Z",
    );
    index.write();
    let server = Server::start(&p.path("slow-index"), Mode::Files);
    p.write("requirements.txt", "slowbuild==1.0\n");
    let tmp = p.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut child = envlock(&p.path("cache"))
        .current_dir(p.dir.path())
        .env("TMPDIR", &tmp)
        .args(["resolve", "requirements.txt", "--index-url"])
        .arg(format!("{}/simple/", server.url))
        .arg("-c")
        .arg(fixture_channels().join("pyconda"))
        .args(["--python", "3.11", "-p", "linux-64"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let grandchild = loop {
        if let Some(pid) = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        {
            break pid;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "envlock ended ({status}) before the build started:\n{}",
                common::stderr(&out)
            );
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "the backend never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let builds = || {
        std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("envlock-build-"))
            .collect::<Vec<_>>()
    };
    assert_eq!(builds().len(), 1, "the build runs in {}", tmp.display());

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", common::stderr(&out));
    assert_eq!(
        builds(),
        Vec::<String>::new(),
        "the build directory is left"
    );
    // The backend's own child is gone too (or a zombie waiting for init to reap it).
    let proc = PathBuf::from(format!("/proc/{grandchild}"));
    let started = std::time::Instant::now();
    while std::fs::read_to_string(proc.join("stat")).is_ok_and(|s| !s.contains(") Z ")) {
        assert!(
            started.elapsed().as_secs() < 10,
            "the backend's child {grandchild} still runs"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// After ten failed metadata builds of one project, its other sdist-only versions are left out
/// unbuilt: a version with a wheel still locks, and when none is left the failure says why, at
/// once, instead of building every old sdist (mmcv has a hundred, none of which builds on 3.12).
#[test]
fn a_project_whose_sdists_keep_failing_is_not_built_forever() {
    let Some(p) = Project::new(|_| {}) else {
        return;
    };
    let log = p.path("builds.log");
    let backend = format!(
        "def prepare_metadata_for_build_wheel(d, config_settings=None):\n    \
             open({log:?}, 'a').write('built\\n')\n    \
             raise SystemExit('cannot import name convert_path')\n",
        log = log.display().to_string()
    );
    let mut index = Index::new(&p.path("brittle-index"));
    for wheel in build_wheels().unwrap() {
        index.real_wheel(&wheel);
    }
    for minor in 1..=12 {
        let version = format!("1.{minor}");
        index.sdist(
            "brittle",
            &version,
            &[
                ("PKG-INFO", &format!("Metadata-Version: 2.1\nName: brittle\nVersion: {version}\n")),
                (
                    "pyproject.toml",
                    "[build-system]\nrequires = []\nbuild-backend = \"failing\"\nbackend-path = [\".\"]\n",
                ),
                ("failing.py", &backend),
            ],
            "2024-01-01T00:00:00Z",
        );
    }
    index.wheel("brittle", "0.9", &[], "2024-01-01T00:00:00Z");
    index.write();
    let server = Server::start(&p.path("brittle-index"), Mode::Files);
    let url = format!("{}/simple/", server.url);
    let builds = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };

    p.write("requirements.txt", "brittle\n");
    let out = ok(p.resolve_with(&url, &[]));
    assert_eq!(pip_set(&p.lock()), ["brittle==0.9"], "{out}");
    assert_eq!(builds(), 10, "ten builds, then the wheel: {out}");

    std::fs::remove_file(&log).unwrap();
    p.write("requirements.txt", "brittle>=1.0\n");
    let err = fails(p.resolve_with(&url, &[]));
    assert_eq!(builds(), 10, "{err}");
    assert!(
        err.contains(
            "`brittle` 1.1, 1.2: only an sdist, not built because the metadata builds of 10 other \
             versions failed (below)"
        ),
        "{err}"
    );
    // The versions left out one at a time read as one range.
    assert!(
        err.contains(
            "no usable version of `brittle` that matches >=1.0,!=1.3,!=1.4,!=1.5,!=1.6,!=1.7,!=1.8,\
             !=1.9,!=1.10,!=1.11,!=1.12 and"
        ),
        "{err}"
    );
}

/// Metadata with a `Requires-Python` that PEP 440 rejects but setuptools once wrote (`>=3.6,`,
/// as celery 5.2.6 and openpyxl 3.0.7 have) is read as meant: it locks when it admits the
/// target's python and is refused, named, when the repaired specifier does not.
#[test]
fn a_published_requires_python_with_a_trailing_comma_is_read_as_meant() {
    let Some(p) = Project::new(|i| {
        i.wheel_tagged(
            "oldmeta",
            "1.0",
            "py3-none-any",
            "Requires-Python: >=3.6,\n",
            &["dep-a (>=1.0<2.0)"],
            "2024-01-01T00:00:00Z",
        );
        i.wheel_tagged(
            "newmeta",
            "1.0",
            "py3-none-any",
            "Requires-Python: >=3.12.*\n",
            &[],
            "2024-01-01T00:00:00Z",
        );
        i.wheel("dep-a", "1.0", &[], "2024-01-01T00:00:00Z");
        i.wheel("dep-a", "2.0", &[], "2024-01-01T00:00:00Z");
    }) else {
        return;
    };
    p.write("requirements.txt", "oldmeta==1.0\n");
    let out = ok(p.resolve(&[]));
    // `>=1.0<2.0` is `>=1.0,<2.0`: dep-a 2.0 stays out.
    assert_eq!(pip_set(&p.lock()), ["dep-a==1.0", "oldmeta==1.0"], "{out}");

    p.write("requirements.txt", "newmeta==1.0\n");
    let err = fails(p.resolve(&[]));
    assert!(
        err.contains("requires Python >=3.12") && err.contains("3.11.7"),
        "{err}"
    );
}

/// Runs `command`, returning its combined output, and asserts whether it succeeded.
fn run(command: &mut Command, succeeds: bool) -> String {
    let out = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.success(), succeeds, "{command:?}:\n{text}");
    text
}

#[test]
fn an_sdist_locks_its_build_set_and_installs_from_it_without_isolation() {
    let Some(p) = Project::new(|i| {
        legacy_sdist(i, "oldstyle", "1.3.3", &["dep-a>=1"]);
        i.wheel("dep-a", "1.0", &[], "2024-01-01T00:00:00Z");
    }) else {
        return;
    };
    p.write("requirements.txt", "oldstyle\n");
    let err = ok(p.resolve(&["--exclude-newer", "2024-06-01"]));
    assert!(
        err.contains("the image builds oldstyle 1.3.3 from its sdist for linux-64: pure Python; build requirements pinned: setuptools, wheel"),
        "{err}"
    );
    let lock = p.lock();
    // The build set: hashed wheels, category build, optional, so conda-lock skips them.
    let build: Vec<_> = lock
        .package
        .iter()
        .filter(|p| p.category == "build")
        .collect();
    let mut names: Vec<&str> = build.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["setuptools", "wheel"]);
    for b in &build {
        assert!(b.optional && b.manager == Manager::Pip, "{b:?}");
        assert!(b.url.ends_with(".whl") && b.hash.sha256.is_some(), "{b:?}");
    }
    let meta = envlock::lock::EnvlockMeta::read(&lock).unwrap();
    let record = &meta.pypi_build["linux-64"]["oldstyle"];
    assert_eq!(
        record.requires.as_deref(),
        Some(&["setuptools".to_string(), "wheel".to_string()][..])
    );

    // The Dockerfile installs the wheels, then the build set into a directory of its own,
    // then the sdist without isolation against it.
    let base = format!("python:3.11-slim@sha256:{}", "a".repeat(64));
    ok(envlock(&p.path("cache"))
        .current_dir(p.dir.path())
        .args(["dockerfile", "--flavor", "venv", "--base", &base])
        .output()
        .unwrap());
    let dockerfile = std::fs::read_to_string(p.path("Dockerfile")).unwrap();
    let at = |s: &str| {
        dockerfile
            .find(s)
            .unwrap_or_else(|| panic!("{s} not in:\n{dockerfile}"))
    };
    assert!(at("-r \"/opt/envlock/pip-$platform.txt\"") < at("--target /tmp/envlock-build"));
    assert!(at("--target /tmp/envlock-build") < at("--no-build-isolation"));
    assert!(at("--no-build-isolation") < at("rm -rf /tmp/envlock-build"));
    assert!(at("rm -rf /tmp/envlock-build") < at("-m pip check"));
    let envlock_dir = p.path("envlock");
    let env_file = std::fs::read_to_string(envlock_dir.join("pip-linux-64.txt")).unwrap();
    assert!(
        env_file.contains("dep-a @") && !env_file.contains("oldstyle"),
        "{env_file}"
    );
    let sdists = std::fs::read_to_string(envlock_dir.join("pip-sdist-linux-64.txt")).unwrap();
    assert!(
        sdists.contains("oldstyle @") && sdists.contains("--hash=sha256:"),
        "{sdists}"
    );

    // `check` agrees with what resolve and dockerfile wrote.
    let check = || {
        envlock(&p.path("cache"))
            .current_dir(p.dir.path())
            .args(["check", "requirements.txt"])
            .output()
            .unwrap()
    };
    let out = check();
    assert!(out.status.success(), "{}", common::stderr(&out));

    // The same commands in a real venv, offline but for the local index: real pip checks
    // every hash and builds the sdist from the pinned setuptools.
    let venv = p.path("venv");
    let python_exe = ["python3.11", "python3"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap();
    run(
        Command::new(python_exe).args(["-m", "venv"]).arg(&venv),
        true,
    );
    let py = venv.join("bin/python");
    let pip = |args: &[&str], file: &Path| {
        let mut c = Command::new(&py);
        c.args([
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--require-hashes",
            "--no-cache-dir",
        ])
        .args(["--no-index", "--disable-pip-version-check"])
        .args(args)
        .arg("-r")
        .arg(file)
        .env("PIP_CONFIG_FILE", "/dev/null");
        c
    };
    let target = p.path("envlock-build");
    let tampered = p.path("tampered.txt");
    let build_file = std::fs::read_to_string(envlock_dir.join("pip-build-linux-64.txt")).unwrap();
    let setuptools = &build.iter().find(|b| b.name == "setuptools").unwrap().hash;
    std::fs::write(
        &tampered,
        build_file.replace(setuptools.sha256.as_deref().unwrap(), &"0".repeat(64)),
    )
    .unwrap();
    let refused = run(
        &mut pip(&["--target", &target.display().to_string()], &tampered),
        false,
    );
    assert!(refused.contains("DO NOT MATCH"), "{refused}");
    run(&mut pip(&[], &envlock_dir.join("pip-linux-64.txt")), true);
    run(
        &mut pip(
            &["--target", &target.display().to_string()],
            &envlock_dir.join("pip-build-linux-64.txt"),
        ),
        true,
    );
    run(
        pip(
            &["--no-build-isolation"],
            &envlock_dir.join("pip-sdist-linux-64.txt"),
        )
        .env("PYTHONPATH", &target),
        true,
    );
    run(Command::new(&py).args(["-m", "pip", "check"]), true);
    let listed = run(
        Command::new(&py).args(["-m", "pip", "list", "--format=freeze"]),
        true,
    );
    assert!(listed.contains("oldstyle==1.3.3"), "{listed}");
    // (python 3.11's venv brings a setuptools of its own; the build set's wheel is not in it.)
    assert!(
        !listed.contains("wheel=="),
        "build tools stay out of the env: {listed}"
    );

    // Removing a build-set entry by hand is drift.
    let text = std::fs::read_to_string(p.path("conda-lock.yml")).unwrap();
    let mut lock = p.lock();
    lock.package
        .retain(|p| !(p.category == "build" && p.name == "wheel"));
    envlock::lock::write(&lock, &p.path("conda-lock.yml")).unwrap();
    let out = check();
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let findings = common::stderr(&out);
    assert!(
        findings.contains("needs wheel to build on linux-64"),
        "{findings}"
    );
    std::fs::write(p.path("conda-lock.yml"), text).unwrap();
}

#[test]
fn without_wheels_for_its_build_requirements_an_sdist_builds_isolated_with_a_warning() {
    let Some(p) = Project::new(|i| {
        let pyproject =
            "[build-system]\nrequires = [\"nonexistent-backend>=1\"]\nbuild-backend = \"x\"\n";
        let pkg_info = "Metadata-Version: 2.2\nName: static\nVersion: 1.0\nRequires-Dist: dep-a\n";
        i.sdist(
            "static",
            "1.0",
            &[("pyproject.toml", pyproject), ("PKG-INFO", pkg_info)],
            "2024-01-01T00:00:00Z",
        );
        i.wheel("dep-a", "1.0", &[], "2024-01-01T00:00:00Z");
    }) else {
        return;
    };
    p.write("requirements.txt", "static\n");
    let err = ok(p.resolve(&["--exclude-newer", "2024-06-01"]));
    assert!(
        err.contains(
            "warning: the build requirements of the sdist static 1.0 cannot be pinned for linux-64"
        ),
        "{err}"
    );
    assert_eq!(pip_set(&p.lock()), ["dep-a==1.0", "static==1.0"]);
    assert!(!p.lock().package.iter().any(|p| p.category == "build"));
    let base = format!("python:3.11-slim@sha256:{}", "a".repeat(64));
    ok(envlock(&p.path("cache"))
        .current_dir(p.dir.path())
        .args(["dockerfile", "--flavor", "venv", "--base", &base])
        .output()
        .unwrap());
    let dockerfile = std::fs::read_to_string(p.path("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("# The build requirements of these sdists are not pinned")
            && dockerfile.contains("#   static 1.0 (linux-64)")
            && !dockerfile.contains("--no-build-isolation"),
        "{dockerfile}"
    );
    assert!(!p.path("envlock/pip-build-linux-64.txt").exists());
    let out = envlock(&p.path("cache"))
        .current_dir(p.dir.path())
        .args(["check", "requirements.txt"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
}

#[test]
fn dockerfile_refuses_an_sdist_that_compiles_on_a_base_without_a_compiler() {
    let Some(p) = Project::new(|i| {
        let setup =
            "from setuptools import setup\nsetup(name='speedy', version='1.0', py_modules=[])\n";
        let pkg_info = "Metadata-Version: 2.1\nName: speedy\nVersion: 1.0\n";
        i.sdist(
            "speedy",
            "1.0",
            &[
                ("setup.py", setup),
                ("PKG-INFO", pkg_info),
                ("src/_speedups.c", "int x;\n"),
            ],
            "2024-01-01T00:00:00Z",
        );
    }) else {
        return;
    };
    p.write("requirements.txt", "speedy\n");
    let err = ok(p.resolve(&["--exclude-newer", "2024-06-01"]));
    assert!(
        err.contains("the image builds speedy 1.0 from its sdist for linux-64: needs a C compiler (it has compiled sources (src/_speedups.c))"),
        "{err}"
    );
    let render = |base: &str, extra: &[&str]| {
        envlock(&p.path("cache"))
            .current_dir(p.dir.path())
            .args(["dockerfile", "--reset", "--flavor", "venv", "--base"])
            .arg(format!("{base}@sha256:{}", "a".repeat(64)))
            .args(extra)
            .output()
            .unwrap()
    };
    let err = fails(render("python:3.11-slim", &[]));
    assert!(
        err.contains("speedy 1.0")
            && err.contains("needs a C compiler")
            && err.contains("--allow-compile"),
        "{err}"
    );
    assert!(!p.path("Dockerfile").exists(), "nothing is written");
    ok(render("python:3.11-slim", &["--allow-compile"]));
    // The full python image has gcc.
    ok(render("python:3.11", &[]));
}

#[test]
fn local_setuptools_projects_lock_what_their_backend_reports_and_check_sees_their_files() {
    let Some(p) = Project::new(|i| {
        i.wheel("dep-a", "1.0", &[], "2024-01-01T00:00:00Z");
        i.wheel("dep-b", "1.0", &[], "2024-01-01T00:00:00Z");
        i.wheel("dep-b", "2.0", &[], "2024-01-01T00:00:00Z");
    }) else {
        return;
    };
    // A setup.py and no pyproject.toml: setuptools' legacy backend, as pip builds it.
    p.write(
        "legacy/setup.py",
        "from setuptools import setup\nsetup(name='legacy-app', version='2.1', py_modules=[], \
         install_requires=['dep-a>=1'], extras_require={'b': ['dep-b<2']})\n",
    );
    // PEP 621 with dependencies setuptools reads from a file the pyproject names.
    p.write(
        "dyn/pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=62.6\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"dyn-app\"\nversion = \"0.4\"\ndynamic = [\"dependencies\"]\n\n\
         [tool.setuptools]\npy-modules = []\n\n\
         [tool.setuptools.dynamic]\ndependencies = {file = [\"deps/base.txt\"]}\n",
    );
    p.write("dyn/deps/base.txt", "dep-b\n");
    p.write("requirements.txt", "-e ./legacy[b]\n./dyn\n");
    let err = ok(p.resolve(&["--exclude-newer", "2024-06-01"]));
    // `dep-b<2` from legacy-app's extra `b` holds dyn-app's `dep-b` back.
    assert_eq!(pip_set(&p.lock()), ["dep-a==1.0", "dep-b==1.0"], "{err}");
    for dir in ["legacy", "dyn"] {
        assert!(
            err.contains(&format!(
                "built the metadata of the local project {dir} from its directory with python"
            )),
            "{err}"
        );
    }
    let custom = p.lock().metadata.custom_metadata.unwrap();
    let records: serde_json::Value =
        serde_json::from_str(&custom["envlock.local_projects"]).unwrap();
    assert_eq!(records[0]["name"], "legacy-app");
    assert_eq!(records[0]["version"], "2.1");
    assert_eq!(records[0]["extras"], serde_json::json!(["b"]));
    assert_eq!(
        records[0]["backend_requires"],
        serde_json::json!(["dep-a>=1", "dep-b<2"])
    );
    let inputs = |i: usize| -> Vec<String> {
        records[i]["build_inputs"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(inputs(0), ["setup.py"]);
    assert_eq!(records[1]["name"], "dyn-app");
    assert_eq!(inputs(1), ["deps/base.txt", "pyproject.toml"]);
    // The build set pins setuptools for the image's build of each project.
    let build: Vec<String> = p
        .lock()
        .package
        .iter()
        .filter(|p| p.category == "build")
        .map(|p| p.name.clone())
        .collect();
    assert!(build.iter().any(|n| n == "setuptools"), "{build:?}");

    ok(p.check());
    // The file setuptools reads the dependencies from changes: drift, named.
    p.write("dyn/deps/base.txt", "dep-b\ndep-a\n");
    let out = p.check();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &common::stderr(&out);
    assert!(
        text.contains("the local project `dyn-app`'s build inputs changed (deps/base.txt)"),
        "{text}"
    );
    // setup.py edited: the same.
    p.write(
        "legacy/setup.py",
        "from setuptools import setup\nsetup(name='legacy-app', version='2.1', py_modules=[], \
         install_requires=['dep-a>=1'], extras_require={'b': ['dep-b']})\n",
    );
    let out = p.check();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &common::stderr(&out);
    assert!(
        text.contains("the local project `legacy-app`'s build inputs changed (setup.py)"),
        "{text}"
    );
    // The finding's file is the one that describes the project: its setup.py.
    let json = envlock(&p.path("cache"))
        .current_dir(p.dir.path())
        .args(["check", "requirements.txt", "--format", "json"])
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&json.stdout);
    assert!(json.contains("legacy/setup.py"), "{json}");
    // A resolve runs the backends again and locks what they say now.
    ok(p.resolve(&["--exclude-newer", "2024-06-01", "--update-all"]));
    assert_eq!(pip_set(&p.lock()), ["dep-a==1.0", "dep-b==2.0"]);
    ok(p.check());

    // The Dockerfile installs each project after the locked set, built against the pinned
    // build set, as it does a project with static metadata.
    ok(envlock(&p.path("cache"))
        .current_dir(p.dir.path())
        .args([
            "dockerfile",
            "--base=condaforge/miniforge3:24.3.0-0@sha256:0000000000000000000000000000000000000000000000000000000000000001",
        ])
        .output()
        .unwrap());
    let dockerfile = std::fs::read_to_string(p.path("Dockerfile")).unwrap();
    for (dir, name) in [("legacy", "legacy-app"), ("dyn", "dyn-app")] {
        assert!(
            dockerfile.contains(&format!("COPY {dir}/ /opt/envlock/src/{name}/")),
            "{dockerfile}"
        );
    }
    assert!(dockerfile.contains("--no-build-isolation"), "{dockerfile}");
}

/// A setup.py-only project's `python_requires` reaches envlock only through its backend's
/// metadata, after the conda solve picked the python: one that excludes the locked python is
/// refused naming the project and its Requires-Python, as an index package's is; one that
/// admits it locks.
#[test]
fn a_legacy_projects_requires_python_is_applied_to_the_locked_python() {
    let Some(p) = Project::new(|i| {
        i.wheel("dep-a", "1.0", &[], "2024-01-01T00:00:00Z");
    }) else {
        return;
    };
    let setup = |requires_python: &str| {
        format!(
            "from setuptools import setup\nsetup(name='new-app', version='1.0', py_modules=[], \
             install_requires=['dep-a'], python_requires='{requires_python}')\n"
        )
    };
    p.write("app/setup.py", &setup(">=3.13"));
    p.write("requirements.txt", "./app\n");
    let resolve = |python: &str| {
        envlock(&p.path("cache"))
            .current_dir(p.dir.path())
            .args(["resolve", "requirements.txt", "--index-url"])
            .arg(format!("{}/simple/", p.server.url))
            .arg("-c")
            .arg(fixture_channels().join("pyconda"))
            .args(["--python", python, "-p", "linux-64"])
            .args(["--exclude-newer", "2024-06-01"])
            .output()
            .unwrap()
    };
    for (python, locked) in [("3.11", "3.11.7"), ("3.12", "3.12.1")] {
        let err = fails(resolve(python));
        assert!(
            err.contains(&format!(
                "requirements.txt:1:1: the local project `new-app` requires Python >=3.13 (the \
                 Requires-Python of the metadata its backend gave), and linux-64 locks Python \
                 {locked}"
            )),
            "{err}"
        );
        assert!(
            err.contains("hint: lock with a Python the project supports (`--python X.Y`"),
            "{err}"
        );
        assert!(!p.path("conda-lock.yml").exists(), "{err}");
    }
    // Again, now that the hook's answer comes from the cache: the check is not skipped.
    let err = fails(resolve("3.11"));
    assert!(err.contains("requires Python >=3.13"), "{err}");

    // A range the locked python is in: the project locks with its dependency.
    p.write("app/setup.py", &setup(">=3.11"));
    let err = ok(resolve("3.11"));
    assert_eq!(pip_set(&p.lock()), ["dep-a==1.0"], "{err}");
    let custom = p.lock().metadata.custom_metadata.unwrap();
    let records: serde_json::Value =
        serde_json::from_str(&custom["envlock.local_projects"]).unwrap();
    assert_eq!(records[0]["name"], "new-app");
    assert_eq!(records[0]["backend_requires"], serde_json::json!(["dep-a"]));
}
