//! End to end with real containers: a Flask app locked from PyPI, its `venv`-flavor Dockerfile
//! built with buildah and run with podman (the registry-free harness in
//! `../shared/container-harness`), answering HTTP 200 and stopping cleanly on SIGTERM; and base
//! images pinned through a real registry (Debian's `docker-registry`) on 127.0.0.1.
//!
//! The conda flavor cannot be built here: no conda channel is reachable to download packages.
//! The Jupyter preset's venv image builds on a base without a C compiler, sdists included.

mod common;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use common::{envlock, fixture_channels, ok};

/// The harness directory, or `None` (after saying so) outside CI when `../shared` is absent.
fn harness() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/container-harness");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{} is missing, and CI=true requires it", dir.display());
    }
    eprintln!("skipping: {} is absent", dir.display());
    None
}

/// Runs `script` after sourcing the harness's lib.sh (buildah/podman config and helpers).
fn harness_sh(harness: &Path, script: &str) -> Output {
    Command::new("bash")
        .args(["-c", &format!(". {}/lib.sh && {script}", harness.display())])
        .output()
        .unwrap()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Installs buildah/podman and builds the local Debian base once per machine. The tests of
/// this file run in parallel, and two apt-get runs at once fail on dpkg's lock: the first test
/// here does the set-up, the others wait for it.
fn prepare(harness: &Path) {
    static PREPARED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut prepared = PREPARED.lock().unwrap_or_else(|e| e.into_inner());
    if *prepared {
        return;
    }
    let out = Command::new("bash")
        .arg(harness.join("setup.sh"))
        .output()
        .unwrap();
    assert_ok(&out, "setup.sh");
    let has_base = harness_sh(harness, "podman image exists localhost/debian:bookworm");
    if !has_base.status.success() {
        let out = Command::new("bash")
            .arg(harness.join("make-base.sh"))
            .output()
            .unwrap();
        assert_ok(&out, "make-base.sh");
    }
    *prepared = true;
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// A stand-in for the official python:3.11-slim image, built once per test run: Debian's
/// python3 (3.11) with `python` on the PATH, as the official image has, and no C compiler.
/// Returns its digest.
fn python_standin(harness: &Path) -> String {
    static DIGEST: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let mut digest = DIGEST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = digest.as_ref() {
        return d.clone();
    }
    let base_ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        base_ctx.path().join("Containerfile"),
        "FROM localhost/debian:bookworm\n\
         RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
         && rm -rf /var/lib/apt/lists/* && ln -s /usr/bin/python3 /usr/local/bin/python\n",
    )
    .unwrap();
    let out = harness_sh(
        harness,
        &format!(
            "hbuild -t localhost/python:3.11-slim {}",
            base_ctx.path().display()
        ),
    );
    assert_ok(&out, "building the python stand-in");
    let out = harness_sh(
        harness,
        "podman image inspect --format '{{.Digest}}' localhost/python:3.11-slim",
    );
    assert_ok(&out, "inspecting the stand-in");
    let d = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(d.starts_with("sha256:"), "{d}");
    *digest = Some(d.clone());
    d
}

/// `envlock resolve INPUT --python 3.11 -p linux-64 --exclude-newer CUTOFF -c pyconda` in
/// `dir`: what it printed.
fn resolve_for_python_3_11(dir: &Path, input: &str, cutoff: &str) -> String {
    ok(envlock(&dir.join(".cache"))
        .current_dir(dir)
        .args(["resolve", input, "--python", "3.11", "-p", "linux-64"])
        .args(["--exclude-newer", cutoff, "-c"])
        .arg(fixture_channels().join("pyconda"))
        .output()
        .unwrap())
}

/// `envlock dockerfile --flavor venv --base <the python stand-in> ARGS` in `dir`, and a
/// `.dockerignore` that keeps the cache out of the build context.
fn render_venv(dir: &Path, digest: &str, args: &[&str]) {
    ok(envlock(&dir.join(".cache"))
        .current_dir(dir)
        .args(["dockerfile", "--flavor", "venv"])
        .args(["--base", &format!("localhost/python:3.11-slim@{digest}")])
        .args(args)
        .output()
        .unwrap());
    std::fs::write(dir.join(".dockerignore"), ".cache\n").unwrap();
}

#[test]
fn a_locked_flask_app_builds_runs_and_stops_cleanly() {
    let Some(harness) = harness() else { return };
    prepare(&harness);

    let digest = python_standin(&harness);

    // The app, locked from PyPI.
    let app = tempfile::tempdir().unwrap();
    let dir = app.path();
    std::fs::write(
        dir.join("requirements.txt"),
        "flask==3.0.3\ngunicorn==22.0.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("app.py"),
        "from flask import Flask\napp = Flask(__name__)\n\n@app.route(\"/\")\ndef index():\n    return \"hello from envlock\"\n",
    )
    .unwrap();
    resolve_for_python_3_11(dir, "requirements.txt", "2024-06-01");
    let port = free_port();
    render_venv(
        dir,
        &digest,
        &[
            "--preset",
            "flask",
            "--cmd",
            &format!("gunicorn --bind 0.0.0.0:{port} app:app"),
            "--port",
            &port.to_string(),
        ],
    );

    let tag = format!("localhost/envlock-e2e:{port}");
    let out = harness_sh(&harness, &format!("hbuild -t {tag} {}", dir.display()));
    assert_ok(&out, "building the app image");

    let name = format!("envlock-e2e-{port}");
    let out = harness_sh(
        &harness,
        &format!("podman run -d --network host --name {name} {tag}"),
    );
    assert_ok(&out, "starting the app");
    let cleanup = Cleanup(harness.clone(), name.clone());
    let started = Instant::now();
    let response = loop {
        if let Some(r) = http_get(port) {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the app did not answer within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("hello from envlock"), "{response}");

    // `podman stop` sends SIGTERM; a clean shutdown exits 0 well before the 10 s SIGKILL.
    let stopping = Instant::now();
    let out = harness_sh(&harness, &format!("podman stop --time 10 {name}"));
    assert_ok(&out, "stopping the app");
    let took = stopping.elapsed();
    let out = harness_sh(
        &harness,
        &format!("podman inspect --format '{{{{.State.ExitCode}}}}' {name}"),
    );
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(code, "0", "the app did not exit cleanly on SIGTERM");
    assert!(took < Duration::from_secs(2), "stopping took {took:?}");
    drop(cleanup);
}

/// Removes the container even when the test fails.
struct Cleanup(PathBuf, String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = harness_sh(&self.0, &format!("podman rm -f {}", self.1));
    }
}

/// A registry process, killed when dropped.
struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn base_tags_are_pinned_through_a_registry() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    if Command::new("docker-registry")
        .arg("--version")
        .output()
        .is_err()
    {
        let out = Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "docker-registry",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap();
        assert_ok(&out, "installing docker-registry");
    }
    let store = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = store.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            store.path().join("data").display()
        ),
    )
    .unwrap();
    let _registry = Registry(
        Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let image = format!("127.0.0.1:{port}/team/base:1.0");
    let started = Instant::now();
    loop {
        let out = harness_sh(
            &harness,
            &format!(
                "skopeo copy --dest-tls-verify=false containers-storage:localhost/debian:bookworm docker://{image}"
            ),
        );
        if out.status.success() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "push failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = harness_sh(
        &harness,
        &format!("skopeo inspect --tls-verify=false --format '{{{{.Digest}}}}' docker://{image}"),
    );
    assert_ok(&out, "skopeo inspect");
    let digest = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "").unwrap();
    let lock = format!(
        "channels: [{}]\ndependencies: [python=3.11, pip, tini]\n",
        fixture_channels().join("pyconda").display()
    );
    std::fs::write(dir.path().join("environment.yml"), lock).unwrap();
    ok(envlock(&dir.path().join(".cache"))
        .current_dir(dir.path())
        .args(["resolve", "-p", "linux-64"])
        .output()
        .unwrap());
    ok(envlock(&dir.path().join(".cache"))
        .current_dir(dir.path())
        .args(["dockerfile", "--base", &image])
        .output()
        .unwrap());
    let text = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(text.contains(&format!("FROM {image}@{digest}\n")), "{text}");
}

#[test]
fn the_entrypoint_activates_the_env_and_execs_the_command() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    // A locked conda project: its generated entrypoint.sh, run in a container whose env has an
    // activate.d script (as packages such as gdal or openjdk ship).
    let dir = tempfile::tempdir().unwrap();
    let yml = format!(
        "channels: [{}]\ndependencies: [python=3.11, pip, tini]\n",
        fixture_channels().join("pyconda").display()
    );
    std::fs::write(dir.path().join("environment.yml"), yml).unwrap();
    ok(envlock(&dir.path().join(".cache"))
        .current_dir(dir.path())
        .args(["resolve", "-p", "linux-64"])
        .output()
        .unwrap());
    ok(envlock(&dir.path().join(".cache"))
        .current_dir(dir.path())
        .args(["dockerfile", "--base", "python:3.11-slim@sha256:0000000000000000000000000000000000000000000000000000000000000001"])
        .output()
        .unwrap());
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir.path().join("envlock/entrypoint.sh"),
        ctx.path().join("entrypoint.sh"),
    )
    .unwrap();
    std::fs::write(
        ctx.path().join("Containerfile"),
        "FROM localhost/debian:bookworm\n\
         RUN mkdir -p /opt/conda/envs/env/etc/conda/activate.d /opt/conda/envs/env/bin \
         && echo 'export GDAL_DATA=$CONDA_PREFIX/share/gdal' > /opt/conda/envs/env/etc/conda/activate.d/gdal.sh\n\
         COPY entrypoint.sh /opt/envlock/entrypoint.sh\n\
         RUN chmod 0755 /opt/envlock/entrypoint.sh\n\
         ENTRYPOINT [\"/opt/envlock/entrypoint.sh\"]\n",
    )
    .unwrap();
    let tag = "localhost/envlock-entrypoint:test";
    let out = harness_sh(
        &harness,
        &format!("hbuild -t {tag} {}", ctx.path().display()),
    );
    assert_ok(&out, "building the entrypoint image");
    // `exec` makes the command PID 1's direct replacement: `$$` of the shell is 1.
    let out = harness_sh(
        &harness,
        &format!("hrun {tag} bash -c 'echo $GDAL_DATA $CONDA_DEFAULT_ENV $$'"),
    );
    assert_ok(&out, "running the entrypoint");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        "/opt/conda/envs/env/share/gdal env 1",
        "{stdout}"
    );
}

/// The seed Jupyter image with the default options (venv flavor, a slim base without a C
/// compiler): the lock has wheels for every native package (the glibc 2.28 target), and the
/// two sdists that have no wheel at all (retrying, antlr4-python3-runtime) are built in the
/// image from their locked, hash-checked build set. The image then imports all of them.
#[test]
fn the_jupyter_preset_and_locked_sdists_build_on_a_base_without_a_compiler() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    let digest = python_standin(&harness);
    let out = harness_sh(
        &harness,
        &format!("hrun localhost/python:3.11-slim@{digest} sh -c 'command -v gcc cc || echo none'"),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "none");

    let app = tempfile::tempdir().unwrap();
    let dir = app.path();
    std::fs::write(
        dir.join("requirements.txt"),
        "jupyterlab\nretrying==1.3.3\nantlr4-python3-runtime==4.9.3\n",
    )
    .unwrap();
    let resolved = resolve_for_python_3_11(dir, "requirements.txt", "2026-06-01");
    assert!(
        resolved.contains("the image builds antlr4-python3-runtime 4.9.3 from its sdist"),
        "{resolved}"
    );
    render_venv(dir, &digest, &["--preset", "jupyter"]);
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("--no-build-isolation"), "{dockerfile}");

    let tag = "localhost/envlock-jupyter:test";
    let out = harness_sh(&harness, &format!("hbuild -t {tag} {}", dir.display()));
    assert_ok(&out, "building the Jupyter image");
    let out = harness_sh(
        &harness,
        &format!(
            "hrun {tag} python -c 'import jupyterlab, zmq, argon2, retrying, antlr4; \
             print(jupyterlab.__version__, zmq.__version__)'"
        ),
    );
    assert_ok(&out, "importing in the Jupyter image");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lock = envlock::lock::read(&dir.join("conda-lock.yml")).unwrap();
    let locked = |name: &str| {
        lock.package
            .iter()
            .find(|p| p.name == name && p.category == "main")
            .unwrap()
            .version
            .clone()
    };
    assert_eq!(
        stdout.trim(),
        format!("{} {}", locked("jupyterlab"), locked("pyzmq")),
        "{stdout}"
    );
    let out = harness_sh(&harness, &format!("hrun {tag} jupyter lab --version"));
    assert_ok(&out, "jupyter lab --version");
}

/// A local project (`envlock resolve pyproject.toml`): its locked dependencies install first,
/// the project from source after them with `--no-deps`; editing only its source rebuilds only
/// the layers from the project's COPY on (buildah's log says "Using cache" for the rest).
#[test]
fn a_local_project_installs_after_its_dependencies_and_a_source_edit_reuses_their_layers() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    let digest = python_standin(&harness);
    let app = tempfile::tempdir().unwrap();
    let dir = app.path();
    std::fs::write(
        dir.join("pyproject.toml"),
        "[build-system]\nrequires = [\"flit_core>=3.4,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n\n\
         [project]\nname = \"demo-app\"\nversion = \"1.0\"\ndescription = \"demo\"\n\
         dependencies = [\"six==1.16.0\"]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.join("demo_app")).unwrap();
    // Unique per run, so that layers of earlier runs (buildah keeps them) cannot be reused.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let source = |version: &str| {
        std::fs::write(
            dir.join("demo_app/__init__.py"),
            format!("VERSION = \"{version}-{nonce}\"\n"),
        )
        .unwrap();
    };
    source("one");
    resolve_for_python_3_11(dir, "pyproject.toml", "2024-06-01");
    render_venv(dir, &digest, &[]);
    let tag = "localhost/envlock-local-project:test";
    let build = || {
        let out = harness_sh(&harness, &format!("hbuild -t {tag} {}", dir.display()));
        assert_ok(&out, "building the project image");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let imported = || {
        let out = harness_sh(
            &harness,
            &format!(
                "hrun {tag} python -c 'import demo_app, six; print(demo_app.VERSION, six.__version__)'"
            ),
        );
        assert_ok(&out, "importing the project");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    build();
    assert_eq!(imported(), format!("one-{nonce} 1.16.0"));

    source("two");
    let log = build();
    assert_eq!(imported(), format!("two-{nonce} 1.16.0"));
    // Each step's line is followed by "--> Using cache …" when buildah reused its layer.
    let cached = |needle: &str| {
        let lines: Vec<&str> = log.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("STEP") && l.contains(needle))
            .unwrap_or_else(|| panic!("no step with {needle} in:\n{log}"));
        lines[at + 1..]
            .iter()
            .take_while(|l| !l.starts_with("STEP"))
            .any(|l| l.contains("Using cache"))
    };
    assert!(
        cached("--require-hashes"),
        "the locked install ran again:\n{log}"
    );
    assert!(
        !cached("/opt/envlock/src/demo-app"),
        "the project was not rebuilt:\n{log}"
    );
}

#[test]
fn a_git_requirement_installs_from_its_archive_on_a_base_without_git() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    let digest = python_standin(&harness);
    // A repository with a flit_core project; the nonce keeps earlier runs' layers unused.
    let repo = tempfile::tempdir().unwrap();
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args(args)
            .output()
            .unwrap();
        assert_ok(&out, &format!("git {args:?}"));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["config", "user.email", "t@example.com"]);
    git(&["config", "user.name", "t"]);
    std::fs::create_dir_all(repo.path().join("pkg/demo_git")).unwrap();
    std::fs::write(
        repo.path().join("pkg/pyproject.toml"),
        "[build-system]\nrequires = [\"flit_core>=3.4,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n\n\
         [project]\nname = \"demo-git\"\nversion = \"1.0\"\ndescription = \"demo\"\n\
         dependencies = [\"six==1.16.0\"]\n",
    )
    .unwrap();
    std::fs::write(
        repo.path().join("pkg/demo_git/__init__.py"),
        format!("VALUE = \"from git {nonce}\"\n"),
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "one"]);
    git(&["tag", "v1.0"]);
    let commit = git(&["rev-parse", "v1.0"]);

    let app = tempfile::tempdir().unwrap();
    let dir = app.path();
    std::fs::write(
        dir.join("requirements.txt"),
        format!(
            "demo-git @ git+file://{}@v1.0#subdirectory=pkg\n",
            repo.path().display()
        ),
    )
    .unwrap();
    resolve_for_python_3_11(dir, "requirements.txt", "2024-06-01");
    render_venv(dir, &digest, &[]);
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        !dockerfile.contains("git clone") && !dockerfile.contains("git+"),
        "{dockerfile}"
    );
    assert!(
        dir.join(format!("envlock/git/demo-git-{}.tar", &commit[..12]))
            .is_file()
    );
    let tag = "localhost/envlock-git:test";
    let out = harness_sh(&harness, &format!("hbuild -t {tag} {}", dir.display()));
    assert_ok(&out, "building the image with a git requirement");
    let out = harness_sh(
        &harness,
        &format!(
            "hrun {tag} sh -c 'command -v git || echo no-git; python -c \"import demo_git, six; print(demo_git.VALUE, six.__version__)\"'"
        ),
    );
    assert_ok(&out, "importing the git project");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("no-git\nfrom git {nonce} 1.16.0")
    );
}
