//! Local projects: a pyproject.toml as an input, and `-e .` / `./pkg[extra]` requirement
//! lines. Their declared dependencies are locked from a package index the tests serve on
//! 127.0.0.1 (the `pyconda` fixture channel gives python 3.11.7 and pip); the projects
//! themselves are recorded in the lock and installed from source by the rendered Dockerfile.

mod common;

use std::process::{Command, Output};

use common::{Mode, Project, fails, fixture_channels, ok};
use rattler_conda_lock::{LockFile, Manager};

/// An index with what the test projects need: `requests`, `click` (needs `colorama`), `ujson`,
/// `rich`, `pytest` and `ruff`.
fn project() -> Project {
    Project::new().serve_index(Mode::Files, |i| {
        i.wheel("requests", "2.0");
        i.wheel("click", "8.0").requires(&["colorama"]);
        i.wheel("colorama", "0.4");
        i.wheel("ujson", "5.0");
        i.wheel("rich", "13.0");
        i.wheel("pytest", "8.0");
        i.wheel("ruff", "0.5");
    })
}

const PYPROJECT: &str = r#"[project]
name = "demo-app"
version = "0.3.0"
requires-python = ">=3.10,<3.12"
dependencies = [
    "requests>=2",
    "click",
]

[project.optional-dependencies]
fast = ["ujson"]
cli = ["rich"]
all = ["demo-app[fast,cli]"]

[dependency-groups]
test = ["pytest", {include-group = "lint"}]
lint = ["ruff"]
loop-a = [{include-group = "loop-b"}]
loop-b = [{include-group = "loop-a"}]

[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]
"#;

/// `envlock resolve FILES --index-url <local> -c pyconda -p linux-64 ARGS` in the project.
fn resolve_cmd(p: &Project, files: &[&str], args: &[&str]) -> Command {
    let channel = fixture_channels().join("pyconda");
    let mut cmd = p.command(&["resolve"]);
    cmd.args(files)
        .args(["--index-url", &p.index_url(), "-c"])
        .arg(&channel)
        .args(["-p", "linux-64"])
        .args(args);
    cmd
}

fn resolve(p: &Project, files: &[&str], args: &[&str]) -> Output {
    resolve_cmd(p, files, args).output().unwrap()
}

/// `name==version` of the pip packages locked for linux-64, sorted.
fn pip_set(lock: &LockFile) -> Vec<String> {
    let mut v: Vec<String> = lock
        .package
        .iter()
        .filter(|p| p.manager == Manager::Pip && p.platform == "linux-64")
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect();
    v.sort();
    v
}

fn local_record(lock: &LockFile) -> serde_json::Value {
    let custom = lock.metadata.custom_metadata.as_ref().unwrap();
    serde_json::from_str(&custom["envlock.local_projects"]).unwrap()
}

#[test]
fn a_pyproject_input_locks_its_static_dependencies_and_records_the_project() {
    let p = project();
    p.write("pyproject.toml", PYPROJECT);
    ok(resolve(&p, &["pyproject.toml"], &[]));
    let lock = p.lock();
    assert_eq!(
        pip_set(&lock),
        ["click==8.0", "colorama==0.4", "requests==2.0"]
    );
    // The project itself is not a locked package: it is recorded as a local source.
    assert!(!lock.package.iter().any(|p| p.name == "demo-app"));
    let record = local_record(&lock);
    assert_eq!(record[0]["name"], "demo-app");
    assert_eq!(record[0]["version"], "0.3.0");
    assert_eq!(record[0]["path"], ".");
    assert_eq!(record[0]["input"], true);
    assert_eq!(record[0]["dependencies_sha256"].as_str().unwrap().len(), 64);
    // requires-python became the conda python constraint (no --python, no python in inputs):
    // the channel's newest python is 3.12.1.
    let python = lock
        .package
        .iter()
        .find(|p| p.name == "python")
        .expect("python locked");
    assert_eq!(python.version, "3.11.7");

    // Extras, all extras, and groups with an include.
    ok(resolve(&p, &["pyproject.toml"], &["--extra", "fast"]));
    assert_eq!(
        pip_set(&p.lock()),
        ["click==8.0", "colorama==0.4", "requests==2.0", "ujson==5.0"]
    );
    assert_eq!(
        local_record(&p.lock())[0]["extras"],
        serde_json::json!(["fast"])
    );
    ok(resolve(&p, &["pyproject.toml"], &["--all-extras"]));
    assert_eq!(
        pip_set(&p.lock()),
        [
            "click==8.0",
            "colorama==0.4",
            "requests==2.0",
            "rich==13.0",
            "ujson==5.0"
        ]
    );
    ok(resolve(&p, &["pyproject.toml"], &["--group", "test"]));
    assert_eq!(
        pip_set(&p.lock()),
        [
            "click==8.0",
            "colorama==0.4",
            "pytest==8.0",
            "requests==2.0",
            "ruff==0.5"
        ]
    );
    // A re-run without flags keeps the recorded selection.
    ok(resolve(&p, &["pyproject.toml"], &[]));
    assert!(pip_set(&p.lock()).contains(&"pytest==8.0".to_string()));
    // ... which is for a pyproject.toml input: a requirements file naming the project next is
    // not given it.
    p.write("requirements.txt", "-e .\n");
    ok(resolve(&p, &["requirements.txt"], &[]));
    assert!(!pip_set(&p.lock()).contains(&"pytest==8.0".to_string()));

    // `--python 3.11` is any 3.11.z, so it satisfies `>=3.11.4`.
    p.write(
        "pyproject.toml",
        PYPROJECT.replace(">=3.10,<3.12", ">=3.11.4").as_str(),
    );
    ok(resolve(
        &p,
        &["pyproject.toml"],
        &["--python", "3.11", "--reset"],
    ));
}

#[test]
fn unknown_extras_groups_and_cycles_are_errors() {
    let p = project();
    p.write("pyproject.toml", PYPROJECT);
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["pyproject.toml"], &["--extra", "nope"]),
        "unknown_extra"
    ));
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["pyproject.toml"], &["--group", "docs"]),
        "unknown_group"
    ));
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["pyproject.toml"], &["--group", "loop-a"]),
        "group_cycle"
    ));
    // --python outside requires-python.
    p.write(
        "pyproject.toml",
        PYPROJECT.replace(">=3.10,<3.12", ">=3.12").as_str(),
    );
    let err = fails(resolve(&p, &["pyproject.toml"], &["--python", "3.11"]));
    assert!(err.contains("does not satisfy"), "{err}");
}

#[test]
fn files_envlock_does_not_read_are_refused_by_name() {
    let p = project();
    p.write("Pipfile", "[packages]\nrequests = \"*\"\n");
    p.write("setup.py", "from setuptools import setup\nsetup()\n");
    p.write("tool.toml", "[tool.ruff]\nline-length = 100\n");
    p.write("poetry.lock", "# lock\n");
    for (file, name) in [
        ("Pipfile", "pipfile"),
        ("setup.py", "setup_py"),
        ("tool.toml", "toml_without_project"),
        ("poetry.lock", "other_lockfile"),
    ] {
        let err = fails(envlock_snapshot!(
            p,
            resolve_cmd(&p, &[file], &[]),
            format!("refused_{name}")
        ));
        assert!(
            err.contains(&format!("{file}: is not an input envlock reads")),
            "{err}"
        );
        assert!(!err.contains("PEP 508") && !err.contains(":1:1"), "{err}");
    }
    // Another *.toml with a [project] table is a pyproject.
    p.write("app.toml", PYPROJECT);
    ok(resolve(&p, &["app.toml"], &[]));
}

#[test]
fn requirement_lines_naming_local_projects_lock_their_dependencies() {
    let p = project();
    p.write("pyproject.toml", PYPROJECT);
    p.write("requirements.txt", "-e .\nrich\n");
    ok(resolve(&p, &["requirements.txt"], &[]));
    let lock = p.lock();
    assert_eq!(
        pip_set(&lock),
        ["click==8.0", "colorama==0.4", "requests==2.0", "rich==13.0"]
    );
    let record = local_record(&lock);
    assert_eq!(record[0]["path"], ".");
    assert_eq!(record[0]["editable"], true);
    assert!(record[0].get("input").is_none());

    // environment.yml `pip:` with `-e ./pkg[extra]`.
    let q = project();
    q.write("pkg/pyproject.toml", PYPROJECT);
    q.write(
        "environment.yml",
        "channels: [CHANNEL]\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - -e ./pkg[fast]\n"
            .replace("CHANNEL", fixture_channels().join("pyconda").to_str().unwrap())
            .as_str(),
    );
    ok(resolve(&q, &["environment.yml"], &[]));
    let lock = q.lock();
    assert_eq!(
        pip_set(&lock),
        ["click==8.0", "colorama==0.4", "requests==2.0", "ujson==5.0"]
    );
    let record = local_record(&lock);
    assert_eq!(record[0]["path"], "pkg");
    assert_eq!(record[0]["extras"], serde_json::json!(["fast"]));

    // A project outside the lockfile's directory cannot be locked.
    q.write("env/requirements.txt", "-e ../pkg\n");
    let err = fails(resolve(&q, &["env/requirements.txt"], &[]));
    assert!(
        err.contains("the local project `demo-app`") && err.contains("cannot be locked"),
        "{err}"
    );

    // A directory with a setup.py and no pyproject.toml gets setuptools' legacy backend, which
    // this index does not have (sdist_build.rs serves a real one).
    q.write("other/setup.py", "");
    q.write("requirements.txt", "./other\n");
    let err = fails(resolve(&q, &["requirements.txt"], &[]));
    assert!(
        err.contains("requirements.txt:1:1: ")
            && err.contains("build the metadata of the local project other from its directory"),
        "{err}"
    );
    if have_python() {
        assert!(
            err.contains("resolving its build requirements") && err.contains("`setuptools`"),
            "{err}"
        );
    }
}

#[test]
fn check_passes_after_resolve_and_finds_changed_declarations() {
    let p = project();
    p.write("pyproject.toml", PYPROJECT);
    ok(resolve(&p, &["pyproject.toml"], &["--extra", "fast"]));
    ok(p.command(&["check", "pyproject.toml"]).output().unwrap());

    // A dependency added to pyproject.toml.
    p.write(
        "pyproject.toml",
        PYPROJECT
            .replace("\"click\",\n", "\"click\",\n    \"rich\",\n")
            .as_str(),
    );
    let out = p.command(&["check", "pyproject.toml"]).output().unwrap();
    let text = common::drifted(&out);
    assert!(
        text.contains("the declared dependencies, extras or groups of the local project `demo-app` (pyproject.toml) changed"),
        "{text}"
    );

    // A dependency removed is drift too, although everything left is still locked.
    p.write(
        "pyproject.toml",
        PYPROJECT.replace("    \"click\",\n", "").as_str(),
    );
    let out = p.command(&["check", "pyproject.toml"]).output().unwrap();
    let text = common::drifted(&out);
    assert!(
        text.contains("of the local project `demo-app` (pyproject.toml) changed"),
        "{text}"
    );

    // Another build backend: the build set pinned the old one.
    p.write(
        "pyproject.toml",
        PYPROJECT
            .replace("requires = []", "requires = [\"ruff\"]")
            .as_str(),
    );
    let out = p.command(&["check", "pyproject.toml"]).output().unwrap();
    let text = common::drifted(&out);
    assert!(
        text.contains("the build requirements ([build-system] requires) of the local project `demo-app` (pyproject.toml) changed"),
        "{text}"
    );

    // Back as it was: passes again.
    p.write("pyproject.toml", PYPROJECT);
    ok(p.command(&["check", "pyproject.toml"]).output().unwrap());

    // A local project added through requirements.txt.
    p.write(
        "lib/pyproject.toml",
        "[project]\nname = \"lib\"\ndependencies = []\n",
    );
    p.write("requirements.txt", "./lib\n");
    let out = p
        .command(&["check", "pyproject.toml", "requirements.txt"])
        .output()
        .unwrap();
    let text = common::drifted(&out);
    assert!(text.contains("the local project `lib`"), "{text}");
    assert!(text.contains("is not in the lock"), "{text}");

    // A local project the lock records and no input names any more.
    p.write("requirements.txt", "-e ./lib\n");
    ok(resolve(&p, &["pyproject.toml", "requirements.txt"], &[]));
    ok(p.command(&["check", "pyproject.toml", "requirements.txt"])
        .output()
        .unwrap());
    p.write("requirements.txt", "");
    let out = envlock_snapshot!(
        p,
        p.command(&["check", "pyproject.toml", "requirements.txt"]),
        "check_local_project_removed"
    );
    assert_eq!(out.status.code(), Some(1));
}

const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

/// A project with the in-tree backend and a module, locked from `pyproject.toml`.
fn buildable() -> Project {
    let p = project();
    p.write("pyproject.toml", PYPROJECT);
    p.write(
        "backend.py",
        &common::in_tree_backend("demo_app", "demo-app", "0.3.0", &[]),
    );
    p.write("demo_app/__init__.py", "VALUE = 'demo-app works'\n");
    ok(resolve(&p, &["pyproject.toml"], &["-p", "linux-aarch64"]));
    p
}

/// hadolint passes `dockerfile`, and BuildKit's parser reads it.
fn lint(dockerfile: &std::path::Path) {
    let tools = common::lint::lint_tools();
    common::lint::hadolint(&tools, dockerfile);
    common::lint::parse(&tools, dockerfile);
}

#[test]
fn the_dockerfile_installs_local_projects_after_the_locked_packages() {
    let p = buildable();
    let base = format!("--base=condaforge/miniforge3:24.3.0-0@{DIGEST}");
    ok(
        p.command(&["dockerfile", &base, "--entrypoint", "conda-run"])
            .output()
            .unwrap(),
    );
    let text = p.read("Dockerfile");
    let locked = text
        .find("pip install --no-deps --require-hashes")
        .expect("the locked install");
    let copy = text
        .find("COPY ./ /opt/envlock/src/demo-app/\n")
        .unwrap_or_else(|| panic!("{text}"));
    let install = text
        .find("python -m pip install --no-deps --no-build-isolation /opt/envlock/src/demo-app \\\n")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(locked < copy && copy < install, "{text}");
    lint(&p.path("Dockerfile"));
    p.settings()
        .bind(|| insta::assert_snapshot!("dockerfile_with_a_local_project", text));
    assert!(
        text.contains("from the lock's build set, hash-checked"),
        "{text}"
    );
    // `check` renders the same files, and finds the inputs as `dockerfile --locked` does:
    // ./pyproject.toml when there is no environment.yml or requirements.txt.
    ok(p.command(&["check", "pyproject.toml"]).output().unwrap());
    ok(p.command(&["check"]).output().unwrap());
    ok(p.command(&["dockerfile", "--locked"]).output().unwrap());

    // The venv flavor uses the venv's pip; `-e .` is a regular install unless --editable.
    p.write("requirements.txt", "-e .\n");
    p.remove("conda-lock.yml");
    ok(resolve(&p, &["requirements.txt"], &[]));
    let venv_base = format!("--base=python:3.11-slim@{DIGEST}");
    ok(
        p.command(&["dockerfile", "--reset", "--flavor", "venv", &venv_base])
            .output()
            .unwrap(),
    );
    let text = p.read("Dockerfile");
    assert!(
        text.contains("/opt/venv/bin/python -m pip install --no-deps --no-build-isolation /opt/envlock/src/demo-app \\\n"),
        "{text}"
    );
    ok(
        p.command(&["dockerfile", "--flavor", "venv", &venv_base, "--editable"])
            .output()
            .unwrap(),
    );
    let text = p.read("Dockerfile");
    assert!(
        text.contains("--no-build-isolation -e /opt/envlock/src/demo-app \\\n"),
        "{text}"
    );
    lint(&p.path("Dockerfile"));
    // The recorded --editable is what `check` renders.
    ok(p.command(&["check", "requirements.txt"]).output().unwrap());
}

#[test]
fn the_locked_set_then_the_project_install_and_import() {
    let p = buildable();
    let lock = p.lock();
    let work = tempfile::tempdir().unwrap();
    let platform = if cfg!(target_arch = "aarch64") {
        "linux-aarch64"
    } else {
        "linux-64"
    };
    common::install_and_check(&lock, platform, work.path(), &[]);
    // As the Dockerfile does: the project from its source, without dependencies.
    let python = work.path().join("venv/bin/python");
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-cache-dir",
            "--quiet",
        ])
        .arg(p.dir.path())
        .env_remove("PIP_FIND_LINKS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&python)
        .args([
            "-c",
            "import demo_app, requests, click; print(demo_app.VALUE)",
        ])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "demo-app works"
    );
}

#[test]
fn a_lock_whose_local_path_escapes_its_directory_is_refused() {
    let p = buildable();
    let mut lock = p.lock();
    let custom = lock.metadata.custom_metadata.as_mut().unwrap();
    let records =
        custom["envlock.local_projects"].replace("\"path\":\".\"", "\"path\":\"../../etc\"");
    assert!(records.contains("../../etc"));
    custom.insert("envlock.local_projects".into(), records);
    envlock::lock::write(&lock, &p.path("conda-lock.yml")).unwrap();
    let base = format!("--base=condaforge/miniforge3:24.3.0-0@{DIGEST}");
    let err = fails(envlock_snapshot!(
        p,
        p.command(&["dockerfile", &base]),
        "escaping_local_path"
    ));
    assert!(err.contains("envlock.local_projects"), "{err}");
    assert!(!p.path("Dockerfile").exists());
}

/// Says why a test cannot run (no python to run a build backend with), and fails under CI.
fn have_python() -> bool {
    let found = ["python3.11", "python3"].iter().any(|p| {
        Command::new(p)
            .args(["-c", "import venv"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        assert!(
            std::env::var("CI").ok().is_none_or(|v| v != "true"),
            "no python3.11 or python3 with venv, and CI=true requires it"
        );
        eprintln!("skipping: no python3.11 or python3 with venv");
    }
    found
}

/// An in-tree PEP 517 backend for `name` 0.1 whose metadata hook reports the requirements in
/// `requirements.in` (one a line) and an extra `fast` (`ujson`): dependencies only the backend
/// knows, as setuptools' `dynamic` file reads them.
fn dynamic_backend(name: &str) -> String {
    format!(
        r##"import os

NAME = "{name}"


def _requires():
    with open("requirements.in") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    dist = NAME.replace("-", "_") + "-0.1.dist-info"
    os.makedirs(os.path.join(metadata_directory, dist))
    lines = ["Metadata-Version: 2.1", "Name: " + NAME, "Version: 0.1", "Provides-Extra: fast"]
    lines += ["Requires-Dist: " + r for r in _requires()]
    lines.append('Requires-Dist: ujson; extra == "fast"')
    with open(os.path.join(metadata_directory, dist, "METADATA"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return dist
"##
    )
}

/// A pyproject.toml whose dependencies are dynamic, built by the in-tree `backend.py`.
fn dynamic_pyproject(name: &str) -> String {
    format!(
        "[project]\nname = \"{name}\"\nversion = \"0.1\"\ndynamic = [\"dependencies\"]\n\n\
         [build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n"
    )
}

/// The index for the dynamic projects: `a` 0.5 and 1.0, `b` (needs `a`), `ujson`.
fn dynamic_index() -> Project {
    Project::new().serve_index(Mode::Files, |i| {
        i.wheel("a", "0.5");
        i.wheel("a", "1.0");
        i.wheel("b", "2.0").requires(&["a"]);
        i.wheel("ujson", "5.0");
    })
}

#[test]
fn dynamic_dependencies_are_locked_from_the_backend_metadata_hook() {
    if !have_python() {
        return;
    }
    let p = dynamic_index();
    p.write("pyproject.toml", &dynamic_pyproject("dyn-app"));
    p.write("backend.py", &dynamic_backend("dyn-app"));
    p.write("requirements.in", "a>=1\n");
    let out = resolve(&p, &["pyproject.toml"], &[]);
    let stderr = ok(out);
    // Which python ran the hook is said, as for an sdist.
    assert!(
        stderr
            .contains("built the metadata of the local project . from its directory with python3"),
        "{stderr}"
    );
    let lock = p.lock();
    assert_eq!(pip_set(&lock), ["a==1.0"]);
    let record = &local_record(&lock)[0];
    assert_eq!(record["name"], "dyn-app");
    assert_eq!(record["from_backend"], true);
    assert_eq!(record["backend_requires"], serde_json::json!(["a>=1"]));
    let inputs = record["build_inputs"].as_object().unwrap();
    let names: Vec<&str> = inputs.keys().map(String::as_str).collect();
    assert_eq!(names, ["pyproject.toml", "requirements.in"]);
    assert_eq!(inputs["requirements.in"].as_str().unwrap().len(), 64);

    // The extra the metadata declares, through --extra.
    ok(resolve(&p, &["pyproject.toml"], &["--extra", "fast"]));
    assert_eq!(pip_set(&p.lock()), ["a==1.0", "ujson==5.0"]);
    let err = fails(resolve(&p, &["pyproject.toml"], &["--extra", "nope"]));
    assert!(
        err.contains("the local project `dyn-app` has no extra `nope`; its backend reports `fast`"),
        "{err}"
    );
}

/// `dynamic_backend`, which also appends a line to `hook-runs.log` (not a build input) each
/// time its metadata hook runs.
fn counting_backend(name: &str) -> String {
    dynamic_backend(name).replace(
        "def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):\n",
        "def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):\n    \
         with open(\"hook-runs.log\", \"a\") as f:\n        f.write(\"ran\\n\")\n",
    )
}

/// How many times the counting backend's hook ran in `dir`.
fn hook_runs(p: &Project, dir: &str) -> usize {
    std::fs::read_to_string(p.path(dir).join("hook-runs.log"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// The metadata hook's answer is cached by the project's build inputs, build system and
/// python: a warm re-resolve runs no hook, an edit to any recorded file (or to the in-tree
/// backend) runs it again, and so does `--refresh`. `--offline` uses the cached answer without a request, and a miss is an
/// error naming the project.
#[test]
fn the_metadata_hook_runs_again_only_when_a_build_input_changes() {
    if !have_python() {
        return;
    }
    let p = dynamic_index();
    p.write("lib/pyproject.toml", &dynamic_pyproject("lib"));
    p.write("lib/backend.py", &counting_backend("lib"));
    p.write("lib/requirements.in", "b\n");
    p.write("requirements.txt", "-e ./lib\n");
    let stderr = ok(resolve(&p, &["requirements.txt"], &[]));
    assert_eq!(hook_runs(&p, "lib"), 1);
    assert!(
        stderr.contains("built the metadata of the local project lib from its directory"),
        "{stderr}"
    );
    assert_eq!(pip_set(&p.lock()), ["a==1.0", "b==2.0"]);
    let first = p.read("conda-lock.yml");

    // Warm, nothing changed: no hook, the same lock, and the note says why.
    let stderr = ok(resolve(&p, &["requirements.txt"], &[]));
    assert_eq!(hook_runs(&p, "lib"), 1, "{stderr}");
    assert!(
        stderr.contains(
            "note: used the cached metadata of the local project lib: its build inputs, build \
             system and python"
        ) && stderr.contains("`--refresh` runs the hook again"),
        "{stderr}"
    );
    assert!(!stderr.contains("built the metadata"), "{stderr}");
    assert_eq!(p.read("conda-lock.yml"), first);
    // Another extra selection reads the same metadata: still no hook.
    p.write("requirements.txt", "-e ./lib[fast]\n");
    ok(resolve(&p, &["requirements.txt"], &[]));
    assert_eq!(hook_runs(&p, "lib"), 1);
    assert_eq!(pip_set(&p.lock()), ["a==1.0", "b==2.0", "ujson==5.0"]);

    // Each recorded file: the dynamic-dependency file, then pyproject.toml.
    p.write("lib/requirements.in", "b\na>=1\n");
    ok(resolve(&p, &["requirements.txt"], &[]));
    assert_eq!(hook_runs(&p, "lib"), 2);
    assert_eq!(
        local_record(&p.lock())[0]["backend_requires"],
        serde_json::json!(["b", "a>=1", "ujson"])
    );
    p.write(
        "lib/pyproject.toml",
        &format!("{}# edited\n", dynamic_pyproject("lib")),
    );
    ok(resolve(&p, &["requirements.txt"], &[]));
    assert_eq!(hook_runs(&p, "lib"), 3);
    // The in-tree backend (`backend-path`) is part of the key, though not a recorded input.
    p.write(
        "lib/backend.py",
        &format!("{}# edited\n", counting_backend("lib")),
    );
    ok(resolve(&p, &["requirements.txt"], &[]));
    assert_eq!(hook_runs(&p, "lib"), 4);
    // A file the backend reads that is not recorded is not seen: `--refresh` runs the hook.
    ok(resolve(&p, &["requirements.txt"], &[]));
    assert_eq!(hook_runs(&p, "lib"), 4);
    let stderr = ok(resolve(&p, &["requirements.txt"], &["--refresh"]));
    assert_eq!(hook_runs(&p, "lib"), 5);
    assert!(stderr.contains("built the metadata"), "{stderr}");
    ok(p.command(&["check", "requirements.txt"]).output().unwrap());

    // --offline, warm: the lock is made again without a request to the index (and with every
    // proxy pointing at a closed port) and without running the hook.
    let before = p.read("conda-lock.yml");
    p.remove("conda-lock.yml");
    p.index_server().clear();
    let offline = || {
        let mut cmd = resolve_cmd(&p, &["requirements.txt"], &["--offline"]);
        for var in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
        ] {
            cmd.env(var, "http://127.0.0.1:9");
        }
        cmd.env_remove("NO_PROXY").env_remove("no_proxy");
        cmd.output().unwrap()
    };
    let stderr = ok(offline());
    assert!(stderr.contains("used the cached metadata"), "{stderr}");
    assert_eq!(hook_runs(&p, "lib"), 5);
    assert_eq!(p.read("conda-lock.yml"), before);
    assert!(
        p.index_server().hits().is_empty(),
        "{:?}",
        p.index_server().hits()
    );

    // --offline after an edit: the cached answer is for other build inputs, and the backend is
    // not run offline; the error names the project and its build inputs, exit 2.
    p.write("lib/requirements.in", "a>=1\n");
    let out = offline();
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    let err = fails(out);
    assert!(
        err.contains(
            "requirements.txt:1:1: the metadata of the local project lib is not in the cache \
             for its build inputs as they are now (pyproject.toml, requirements.in)"
        ) && err.contains("--offline does not run its build backend"),
        "{err}"
    );
    assert!(
        err.contains("hint: run the resolve once without --offline"),
        "{err}"
    );
    assert_eq!(hook_runs(&p, "lib"), 5);
    assert_eq!(p.read("conda-lock.yml"), before, "the lock is kept");
    assert!(p.index_server().hits().is_empty());
}

/// The Requires-Python of a backend's metadata must admit the python each platform locks
/// (the in-tree twin of sdist_build.rs' setup.py test, which needs real setuptools).
#[test]
fn a_backend_projects_requires_python_must_admit_the_locked_python() {
    if !have_python() {
        return;
    }
    let p = dynamic_index();
    let backend = |range: &str| {
        dynamic_backend("lib").replace(
            "\"Version: 0.1\",",
            &format!("\"Version: 0.1\", \"Requires-Python: {range}\","),
        )
    };
    p.write("lib/pyproject.toml", &dynamic_pyproject("lib"));
    p.write("lib/backend.py", &backend(">=3.13"));
    p.write("lib/requirements.in", "a>=1\n");
    p.write("requirements.txt", "-e ./lib\n");
    let err = fails(resolve(&p, &["requirements.txt"], &["--python", "3.11"]));
    assert!(
        err.contains(
            "requirements.txt:1:1: the local project `lib` requires Python >=3.13 (the \
             Requires-Python of the metadata its backend gave), and linux-64 locks Python 3.11.7"
        ),
        "{err}"
    );
    assert!(!p.path("conda-lock.yml").exists());
    p.write("lib/backend.py", &backend(">=3.11,<3.12"));
    ok(resolve(&p, &["requirements.txt"], &["--python", "3.11"]));
    assert_eq!(pip_set(&p.lock()), ["a==1.0"]);
    // 3.12 is outside that range.
    let err = fails(resolve(&p, &["requirements.txt"], &["--python", "3.12"]));
    assert!(err.contains("and linux-64 locks Python 3.12.1"), "{err}");
}

#[test]
fn check_takes_a_dynamic_project_from_the_lock_and_finds_its_changed_build_inputs() {
    if !have_python() {
        return;
    }
    let p = dynamic_index();
    p.write("lib/pyproject.toml", &dynamic_pyproject("lib"));
    p.write("lib/backend.py", &dynamic_backend("lib"));
    p.write("lib/requirements.in", "b\n");
    p.write("requirements.txt", "-e ./lib[fast]\n");
    ok(resolve(&p, &["requirements.txt"], &[]));
    assert_eq!(pip_set(&p.lock()), ["a==1.0", "b==2.0", "ujson==5.0"]);
    // Clean without an edit: the lock's record stands for what the backend gave.
    ok(p.command(&["check", "requirements.txt"]).output().unwrap());

    // The file that feeds the dynamic dependencies changes.
    p.write("lib/requirements.in", "b\na>=1\n");
    let out = envlock_snapshot!(
        p,
        p.command(&["check", "requirements.txt"]),
        "check_build_inputs_changed"
    );
    assert_eq!(out.status.code(), Some(1));
    let text = common::drifted(&out);
    assert!(
        text.contains("the local project `lib`'s build inputs changed (requirements.in)"),
        "{text}"
    );
    // Back as it was: clean again; then a setup.py appears.
    p.write("lib/requirements.in", "b\n");
    ok(p.command(&["check", "requirements.txt"]).output().unwrap());
    p.write("lib/setup.py", "from setuptools import setup\nsetup()\n");
    let text = common::drifted(&p.command(&["check", "requirements.txt"]).output().unwrap());
    assert!(
        text.contains("build inputs changed (setup.py (new))"),
        "{text}"
    );
    p.remove("lib/setup.py");

    // Another extra selection is drift, as for a static project.
    p.write("requirements.txt", "-e ./lib\n");
    let text = common::drifted(&p.command(&["check", "requirements.txt"]).output().unwrap());
    assert!(
        text.contains("the declared dependencies, extras or groups of the local project `lib`"),
        "{text}"
    );
    // A resolve reads the backend again, and check is clean.
    ok(resolve(&p, &["requirements.txt"], &[]));
    assert_eq!(pip_set(&p.lock()), ["a==1.0", "b==2.0"]);
    ok(p.command(&["check", "requirements.txt"]).output().unwrap());
}

#[test]
fn a_failing_metadata_hook_is_an_error_naming_the_project() {
    if !have_python() {
        return;
    }
    let p = dynamic_index();
    p.write("app/pyproject.toml", &dynamic_pyproject("app"));
    p.write(
        "app/backend.py",
        "import sys\n\n\
         def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):\n\
         \x20   print('reading requirements.in', file=sys.stderr)\n\
         \x20   raise SystemExit('error: requirements.in: No such file or directory')\n",
    );
    p.write("requirements.txt", "./app\n");
    let out = resolve(&p, &["requirements.txt"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = fails(out);
    assert!(
        err.contains(
            "requirements.txt:1:1: could not build the metadata of the local project app from \
             its directory with"
        ),
        "{err}"
    );
    assert!(err.contains("the backend `backend`"), "{err}");
    assert!(
        err.contains("error: requirements.in: No such file or directory"),
        "{err}"
    );
    assert!(err.contains("hint: fix the project's build"), "{err}");
    assert!(!p.path("conda-lock.yml").exists());

    // No pyproject.toml, setup.py or setup.cfg: nothing to read the project from.
    p.write("requirements.txt", "./empty\n");
    p.write("empty/README", "nothing\n");
    let err = fails(resolve(&p, &["requirements.txt"], &[]));
    assert!(
        err.contains("the local project empty has no pyproject.toml, setup.py or setup.cfg"),
        "{err}"
    );
}
