//! End to end with real containers: a Flask app locked from PyPI, its `venv`-flavor Dockerfile
//! built with buildah and run with podman (the registry-free harness in
//! `../shared/container-harness`), answering HTTP 200 and stopping cleanly on SIGTERM; and base
//! images pinned through a real registry (Debian's `docker-registry`) on 127.0.0.1, whose
//! architecture the registry tells.
//!
//! The conda flavor is built on the harness's miniforge3 stand-in (a real conda) from a channel
//! of conda packages the test writes and serves on 127.0.0.1 (no conda channel is reachable
//! here): tini, which `resolve` adds, is PID 1 and stops the app cleanly. That channel can also
//! carry a conda `python` made of a real CPython (the stand-in's Debian python 3.11.2, the env
//! a venv over it) and a conda `pip` of a real pip, so conda images with pip packages build too
//! (`cpython_packages`).
//! The Jupyter preset builds on a base without a C compiler, sdists included, in both flavors:
//! the venv image, and the conda image (conda's python and pip, the preset's packages from
//! PyPI in the `pip:` section).
//!
//! Cached and reproducible builds: a rebuild after one locked package (conda) or wheel (pip)
//! changed downloads that one alone, as the test's servers count (the caches are BuildKit cache
//! mounts); two `--no-cache --timestamp 0` builds of one lock, venv and conda, give the same
//! layer diffIDs.
//!
//! Sources beyond an index: a local project and a git requirement from an environment.yml's
//! `pip:` section build on a base without git (the project's build backend from the build set),
//! in the venv and the conda flavor, and an edit of the project's source rebuilds only its
//! layers. conda's own lockfile plugin (conda-lockfiles, in the stand-in's conda) installs an
//! envlock lock and refuses a changed sha256.

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

/// A clean stop ends before `podman stop --time 10` would send SIGKILL (which exits 137). Not a
/// speed bound: the exit code says the signal arrived, and on this 2-core machine, with other
/// image builds running, one clean stop took 2.004 s, past the 2 s this once asked for.
const STOPPED_BEFORE_SIGKILL: Duration = Duration::from_secs(8);

/// Stops container `name` with `podman stop` (SIGTERM, SIGKILL after 10 s): how long that took
/// and the exit code. `what` names the step in a failure.
fn stop(harness: &Path, name: &str, what: &str) -> (Duration, String) {
    let stopping = Instant::now();
    assert_ok(
        &harness_sh(harness, &format!("podman stop --time 10 {name}")),
        what,
    );
    let took = stopping.elapsed();
    let out = harness_sh(
        harness,
        &format!("podman inspect --format '{{{{.State.ExitCode}}}}' {name}"),
    );
    (
        took,
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// Asserts that PID 1 of container `name` is the env's tini running the entrypoint.
fn assert_pid1_is_the_envs_tini(harness: &Path, name: &str) {
    let out = harness_sh(harness, &format!("podman exec {name} cat /proc/1/cmdline"));
    assert_ok(&out, "reading PID 1's command line");
    let pid1: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .map(str::to_string)
        .collect();
    assert_eq!(
        pid1[..3],
        [
            "/opt/conda/envs/env/bin/tini",
            "--",
            "/opt/envlock/entrypoint.sh"
        ],
        "PID 1 is not the env's tini: {pid1:?}"
    );
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

/// Whether the build step whose line contains `needle` reused its layer: in buildah's log, a
/// step's line is followed by "--> Using cache …" when it did.
fn used_cache(log: &str, needle: &str) -> bool {
    let lines: Vec<&str> = log.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("STEP") && l.contains(needle))
        .unwrap_or_else(|| panic!("no step with {needle} in:\n{log}"));
    lines[at + 1..]
        .iter()
        .take_while(|l| !l.starts_with("STEP"))
        .any(|l| l.contains("Using cache"))
}

/// The conda platform of this machine, the one Debian's tini is built for.
fn machine_platform() -> &'static str {
    if std::env::consts::ARCH == "aarch64" {
        "linux-aarch64"
    } else {
        "linux-64"
    }
}

/// Unique per run, so that layers of earlier runs (buildah keeps them) cannot be reused.
fn nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
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

    // `podman stop` sends SIGTERM; a clean shutdown exits 0 before the 10 s SIGKILL.
    let (took, code) = stop(&harness, &name, "stopping the app");
    assert_eq!(code, "0", "the app did not exit cleanly on SIGTERM");
    assert!(took < STOPPED_BEFORE_SIGKILL, "stopping took {took:?}");
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
    // The slim runtime's base is pinned through the registry the same way, and recorded.
    let builder = format!("condaforge/miniforge3:25.3.1-0@sha256:{}", "1".repeat(64));
    ok(envlock(&dir.path().join(".cache"))
        .current_dir(dir.path())
        .args([
            "dockerfile",
            "--base",
            &builder,
            "--runtime",
            "slim",
            "--runtime-base",
            &image,
        ])
        .output()
        .unwrap());
    let text = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(
        text.contains(&format!("FROM {builder} AS builder\n"))
            && text.contains(&format!("FROM {image}@{digest}\n")),
        "{text}"
    );
    let recorded = std::fs::read_to_string(dir.path().join("conda-lock.yml")).unwrap();
    assert!(
        recorded.contains(&format!(r#"\"runtime_base\":\"{image}@{digest}\""#)),
        "{recorded}"
    );
    ok(envlock(&dir.path().join(".cache"))
        .current_dir(dir.path())
        .args(["dockerfile", "--reset"])
        .output()
        .unwrap());

    // The registry says the image is for this machine's architecture alone: a lock for the
    // other one is refused before anything is written, naming the base, its architecture and
    // what the lock has.
    let (arch, other, other_arch) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", "linux-aarch64", "arm64"),
        "aarch64" => ("arm64", "linux-64", "amd64"),
        _ => return,
    };
    std::fs::remove_file(dir.path().join("Dockerfile")).unwrap();
    ok(envlock(&dir.path().join(".cache"))
        .current_dir(dir.path())
        .args(["resolve", "-p", other])
        .output()
        .unwrap());
    let err = common::fails(
        envlock(&dir.path().join(".cache"))
            .current_dir(dir.path())
            .args(["dockerfile", "--base", &image])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains(&format!(
            "error: the base {image}@{digest} is an image for linux/{arch}, but conda-lock.yml \
             locks no platform for it (it locks {other} (linux/{other_arch}))"
        )),
        "{err}"
    );
    assert!(!dir.path().join("Dockerfile").exists());
    // So is a slim runtime base for another architecture than the lock's (the builder's
    // architecture, given with its digest, is not known).
    let err = common::fails(
        envlock(&dir.path().join(".cache"))
            .current_dir(dir.path())
            .args([
                "dockerfile",
                "--base",
                &builder,
                "--runtime",
                "slim",
                "--runtime-base",
                &image,
            ])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains(&format!(
            "error: the runtime base {image}@{digest} is an image for linux/{arch}, but conda-lock.yml"
        )) && err.contains("--runtime-base for"),
        "{err}"
    );
    assert!(!dir.path().join("Dockerfile").exists());
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

/// Asserts that `image` has no C compiler on its PATH.
fn assert_no_compiler(harness: &Path, image: &str) {
    let out = harness_sh(
        harness,
        &format!("hrun {image} sh -c 'command -v gcc cc || echo none'"),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "none",
        "{image} has a C compiler"
    );
}

/// The version the lock `lockfile` has for package `name` (main category, any platform).
fn locked_version(lockfile: &Path, name: &str) -> String {
    let lock = envlock::lock::read(lockfile).unwrap();
    lock.package
        .iter()
        .find(|p| p.name == name && p.category == "main")
        .unwrap_or_else(|| panic!("{name} is not locked"))
        .version
        .clone()
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
    assert_no_compiler(&harness, &format!("localhost/python:3.11-slim@{digest}"));

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
    let locked = |name: &str| locked_version(&dir.join("conda-lock.yml"), name);
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
        flit_pyproject("demo-app", "\"six==1.16.0\""),
    )
    .unwrap();
    std::fs::create_dir(dir.join("demo_app")).unwrap();
    // Unique per run, so that layers of earlier runs (buildah keeps them) cannot be reused.
    let nonce = nonce();
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
    // Its build backend is pinned: flit_core from the build set, hash-checked, no isolation.
    let build_set = std::fs::read_to_string(dir.join("envlock/pip-build-linux-64.txt")).unwrap();
    assert!(
        build_set
            .lines()
            .any(|l| l.starts_with("flit-core @ ") && l.contains("--hash=sha256:")),
        "{build_set}"
    );
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("--no-build-isolation /opt/envlock/src/demo-app"),
        "{dockerfile}"
    );
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
    let cached = |needle: &str| used_cache(&log, needle);
    assert!(
        cached("--require-hashes"),
        "the locked install ran again:\n{log}"
    );
    assert!(
        !cached("/opt/envlock/src/demo-app"),
        "the project was not rebuilt:\n{log}"
    );
}

/// An environment.yml whose `pip:` section names the local project (`-e .`) and a git
/// requirement: both lock with the defaults, the venv image builds on a base without git and
/// imports both, and an edit of the project's source rebuilds only the layers after the locked
/// installs.
#[test]
fn an_environment_with_a_local_project_and_a_git_requirement_builds_and_imports_both() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    let digest = python_standin(&harness);
    let nonce = nonce();
    let (repo, commit) = demo_git_repo(nonce);
    let app = tempfile::tempdir().unwrap();
    let dir = app.path();
    write_demo_app(dir, "one", nonce);
    std::fs::write(
        dir.join("environment.yml"),
        local_and_git_environment("", repo.path()),
    )
    .unwrap();
    resolve_for_python_3_11(dir, "environment.yml", "2024-06-01");
    render_venv(dir, &digest, &[]);
    assert_git_requirement_is_packed(dir, &commit);
    let project = LocalAndGit {
        dir,
        tag: "localhost/envlock-git:test",
        nonce,
        prefix: "/opt/venv",
        env_step: "python -m venv",
    };
    project.build_edit_and_rebuild(&harness);
}

/// A flit_core project's pyproject.toml: `name` 1.0, with `deps` (a TOML list's items).
fn flit_pyproject(name: &str, deps: &str) -> String {
    format!(
        "[build-system]\nrequires = [\"flit_core>=3.4,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n\n\
         [project]\nname = \"{name}\"\nversion = \"1.0\"\ndescription = \"demo\"\n\
         dependencies = [{deps}]\n"
    )
}

/// A git repository with the flit_core project `demo-git` in `pkg/` (depending on six
/// 1.16.0; `demo_git.VALUE` is `from git <nonce>`), tagged `v1.0`: the repository and the
/// tag's commit. The nonce keeps earlier runs' layers unused.
fn demo_git_repo(nonce: u128) -> (tempfile::TempDir, String) {
    let repo = tempfile::tempdir().unwrap();
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
        flit_pyproject("demo-git", "\"six==1.16.0\""),
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
    (repo, commit)
}

/// (Re)writes the source of the flit_core project `demo-app` in `dir` (no dependencies):
/// `demo_app.VERSION` is `<version>-<nonce>`.
fn write_demo_app(dir: &Path, version: &str, nonce: u128) {
    std::fs::write(dir.join("pyproject.toml"), flit_pyproject("demo-app", "")).unwrap();
    std::fs::create_dir_all(dir.join("demo_app")).unwrap();
    std::fs::write(
        dir.join("demo_app/__init__.py"),
        format!("VERSION = \"{version}-{nonce}\"\n"),
    )
    .unwrap();
}

/// An environment.yml (after `head`, e.g. its channels) with conda's python 3.11 and pip, and
/// a `pip:` section naming the local project (`-e .`) and `demo-git` from `repo` at `v1.0`.
fn local_and_git_environment(head: &str, repo: &Path) -> String {
    format!(
        "{head}dependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - -e .\n    \
         - demo-git @ git+file://{}@v1.0#subdirectory=pkg\n",
        repo.display()
    )
}

/// The rendered files take the git requirement from a tarball of its commit in envlock/git/,
/// so the image needs no git.
fn assert_git_requirement_is_packed(dir: &Path, commit: &str) {
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        !dockerfile.contains("git clone") && !dockerfile.contains("git+"),
        "{dockerfile}"
    );
    let tar = dir.join(format!("envlock/git/demo-git-{}.tar", &commit[..12]));
    assert!(tar.is_file(), "{} is missing", tar.display());
}

/// A rendered project of [`write_demo_app`] and [`demo_git_repo`] to build in `dir`.
struct LocalAndGit<'a> {
    dir: &'a Path,
    tag: &'a str,
    nonce: u128,
    /// The env's `sys.prefix` in the image.
    prefix: &'a str,
    /// Text of the build step that makes the env.
    env_step: &'a str,
}

impl LocalAndGit<'_> {
    /// Builds the image, which has no git and imports the project, the git package and six
    /// from the env (through the image's entrypoint, if any); then edits only the project's
    /// source and builds again: the new source is imported, and buildah's log says that the
    /// env's and the locked installs' layers were reused while the project was rebuilt.
    fn build_edit_and_rebuild(&self, harness: &Path) {
        let (dir, tag, nonce, prefix) = (self.dir, self.tag, self.nonce, self.prefix);
        let build = || {
            let started = Instant::now();
            let out = harness_sh(harness, &format!("hbuild -t {tag} {}", dir.display()));
            assert_ok(&out, "building the image");
            eprintln!("{tag} built in {:?}", started.elapsed());
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let imported = || {
            let out = harness_sh(
                harness,
                &format!(
                    "hrun {tag} sh -c 'command -v git || echo no-git; python -c \"import sys, demo_app, demo_git, six; print(sys.prefix, demo_app.VERSION, demo_git.VALUE, six.__version__)\"'"
                ),
            );
            assert_ok(&out, "importing the project and the git package");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        build();
        assert_eq!(
            imported(),
            format!("no-git\n{prefix} one-{nonce} from git {nonce} 1.16.0")
        );

        write_demo_app(dir, "two", nonce);
        let log = build();
        assert_eq!(
            imported(),
            format!("no-git\n{prefix} two-{nonce} from git {nonce} 1.16.0")
        );
        let cached = |needle: &str| used_cache(&log, needle);
        assert!(cached(self.env_step), "the env was made again:\n{log}");
        assert!(
            cached("--require-hashes"),
            "the locked install ran again:\n{log}"
        );
        assert!(
            !cached("/opt/envlock/src/demo-app"),
            "the project was not rebuilt:\n{log}"
        );
    }
}

/// `localhost/miniforge3:standin` (a real conda 26.7, no channel), built by the harness's
/// `conda/make-conda-base.sh` once per test run: its reference with the digest it prints.
fn conda_standin(harness: &Path) -> String {
    static REFERENCE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let mut reference = REFERENCE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = reference.as_ref() {
        return r.clone();
    }
    let out = Command::new("bash")
        .arg(harness.join("conda/make-conda-base.sh"))
        .output()
        .unwrap();
    assert_ok(&out, "make-conda-base.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let r = stdout.lines().last().unwrap_or_default().trim().to_string();
    assert!(
        r.starts_with("localhost/miniforge3:standin@sha256:"),
        "{stdout}"
    );
    *reference = Some(r.clone());
    r
}

/// Debian's static tini (`/usr/bin/tini-static` of the `tini` package), installed with apt-get
/// when the machine lacks it, as the harness installs its tools.
fn static_tini() -> PathBuf {
    let path = PathBuf::from("/usr/bin/tini-static");
    if !path.is_file() {
        let out = Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends", "tini"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap();
        assert_ok(&out, "installing Debian's tini");
    }
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

/// Writes a real conda package (`.tar.bz2`: `info/index.json`, `info/paths.json`,
/// `info/files` and `files`, each `(path in the prefix, content, mode)`) into `channel/subdir`
/// and returns its repodata record.
fn conda_package<P: AsRef<str>>(
    channel: &Path,
    subdir: &str,
    name: &str,
    version: &str,
    files: &[(P, Vec<u8>, u32)],
) -> (String, serde_json::Value) {
    conda_package_with(
        channel,
        subdir,
        name,
        version,
        &PackageExtras::default(),
        files,
    )
}

/// What a package of [`conda_package_with`] has besides its files.
struct PackageExtras<'a> {
    /// The build string (also in the file name).
    build: &'a str,
    /// Its `depends`, as match specs.
    depends: &'a [&'a str],
    /// Symbolic links `(path in the prefix, target)`, `softlink`s in `info/paths.json`, as
    /// conda-forge's python has for `bin/python`.
    links: &'a [(&'a str, &'a str)],
}

impl Default for PackageExtras<'_> {
    fn default() -> Self {
        PackageExtras {
            build: "h0_0",
            depends: &[],
            links: &[],
        }
    }
}

/// [`conda_package`] with a build string, dependencies and symbolic links.
fn conda_package_with<P: AsRef<str>>(
    channel: &Path,
    subdir: &str,
    name: &str,
    version: &str,
    extras: &PackageExtras,
    files: &[(P, Vec<u8>, u32)],
) -> (String, serde_json::Value) {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let root = &work.path().join("package");
    let mut paths = Vec::new();
    for (path, content, mode) in files {
        let path = path.as_ref();
        let target = root.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, content).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode)).unwrap();
        paths.push(serde_json::json!({
            "_path": path,
            "path_type": "hardlink",
            "sha256": hex::encode(rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(content)),
            "size_in_bytes": content.len(),
        }));
    }
    for (path, to) in extras.links {
        let link = root.join(path);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(to, &link).unwrap();
        paths.push(serde_json::json!({"_path": path, "path_type": "softlink"}));
    }
    let mut index = serde_json::json!({
        "name": name, "version": version, "build": extras.build, "build_number": 0,
        "depends": extras.depends, "license": "MIT", "subdir": subdir,
        "timestamp": 1_700_000_000_000u64,
    });
    if subdir == "noarch" {
        index["noarch"] = "generic".into();
    }
    std::fs::create_dir_all(root.join("info")).unwrap();
    std::fs::write(root.join("info/index.json"), index.to_string()).unwrap();
    std::fs::write(
        root.join("info/paths.json"),
        serde_json::json!({"paths": paths, "paths_version": 1}).to_string(),
    )
    .unwrap();
    let list: Vec<&str> = files
        .iter()
        .map(|(p, _, _)| p.as_ref())
        .chain(extras.links.iter().map(|(p, _)| *p))
        .collect();
    std::fs::write(root.join("info/files"), list.join("\n") + "\n").unwrap();
    let file = format!("{name}-{version}-{}.tar.bz2", extras.build);
    std::fs::create_dir_all(channel.join(subdir)).unwrap();
    let archive = channel.join(subdir).join(&file);
    // The paths go in through a list file: pip's package has about a thousand.
    let members = work.path().join("members");
    std::fs::write(&members, format!("info\n{}\n", list.join("\n"))).unwrap();
    let mut tar = Command::new("tar");
    tar.arg("-cjf")
        .arg(&archive)
        .arg("-C")
        .arg(root)
        .arg("-T")
        .arg(&members);
    assert_ok(&tar.output().unwrap(), "tar");
    let bytes = std::fs::read(&archive).unwrap();
    let mut record = index;
    record["sha256"] =
        hex::encode(rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(&bytes)).into();
    record["md5"] = hex::encode(rattler_digest::compute_bytes_digest::<rattler_digest::Md5>(
        &bytes,
    ))
    .into();
    record["size"] = bytes.len().into();
    (file, record)
}

/// A conda `python` made of a real CPython, and a conda `pip` of a real pip, written into
/// `channel/<platform>` with build string `build`: their records, and python's version.
///
/// Both come out of the image `standin` (the miniforge3 stand-in): its Debian python3 (3.11.2)
/// and the pip wheel Debian ships (`/usr/share/python-wheels`, pip 23.0.1, the pip the venv
/// flavor's `python -m venv` gets on the python stand-in). The `python` package makes the env's
/// prefix a venv over the image's /usr python: `bin/python3.11` is a copy of the stand-in's
/// binary (`bin/python3` and `bin/python` link to it, as in conda-forge's package),
/// `pyvenv.cfg` at the prefix's root says `home = /usr/bin` without system site-packages, and
/// `lib/python3.11/site-packages/` starts empty. Run from the env, that python's `sys.prefix`
/// is the env and pip installs into the env's site-packages. `pip` is pip's wheel unpacked into
/// that site-packages, with a `bin/pip` script, and depends on `python` as conda-forge's does
/// (which is how envlock tells that the env's pip comes from conda, not PyPI).
///
/// Why it is a faithful stand-in: a real CPython of the version the lock records (the version
/// envlock feeds the PyPI resolver is the one the image runs), installed by a real conda from
/// the locked `@EXPLICIT` file with its hashes checked, and a real pip installing the locked
/// wheels and building the locked sdists. What differs from conda-forge's python: it carries no
/// standard library, headers or shared libraries of its own, so it runs only on an image that
/// has Debian's python3.11 in /usr (the stand-in has; a slim runtime without it would not), and
/// its `sys.base_prefix` is /usr, not the env.
fn cpython_packages(
    harness: &Path,
    standin: &str,
    channel: &Path,
    platform: &str,
    build: &str,
) -> (Vec<(String, serde_json::Value)>, String) {
    let out = tempfile::tempdir().unwrap();
    let said = harness_sh(
        harness,
        &format!(
            "hrun -v {}:/out {standin} sh -c 'cp \"$(readlink -f /usr/bin/python3)\" /out/python \
             && python3 -c \"import platform; print(platform.python_version())\" \
             && cd /usr/share/python-wheels && ls pip-*.whl && python3 -m zipfile -e pip-*.whl /out/pip'",
            out.path().display()
        ),
    );
    assert_ok(&said, "taking python and pip out of the stand-in");
    let said = String::from_utf8_lossy(&said.stdout).into_owned();
    let mut lines = said.lines();
    let version = lines.next().unwrap().trim().to_string();
    let pip_version = lines
        .next()
        .and_then(|wheel| wheel.split('-').nth(1))
        .unwrap_or_else(|| panic!("no pip wheel in the stand-in: {said}"))
        .to_string();
    let minor: Vec<&str> = version.split('.').take(2).collect();
    let lib = format!("lib/python{}", minor.join("."));
    let binary = format!("python{}", minor.join("."));

    let python = conda_package_with(
        channel,
        platform,
        "python",
        &version,
        &PackageExtras {
            build,
            depends: &[],
            links: &[("bin/python3", &binary), ("bin/python", &binary)],
        },
        &[
            (
                format!("bin/{binary}"),
                std::fs::read(out.path().join("python")).unwrap(),
                0o755,
            ),
            (
                "pyvenv.cfg".to_string(),
                format!(
                    "home = /usr/bin\ninclude-system-site-packages = false\nversion = {version}\n"
                )
                .into_bytes(),
                0o644,
            ),
            (
                format!("{lib}/site-packages/.envlock-placeholder"),
                Vec::new(),
                0o644,
            ),
        ],
    );
    let wheel = out.path().join("pip");
    let mut files: Vec<(String, Vec<u8>, u32)> = common::files_under(&wheel)
        .into_iter()
        .map(|f| {
            let relative = f.strip_prefix(&wheel).unwrap().to_str().unwrap();
            (
                format!("{lib}/site-packages/{relative}"),
                std::fs::read(&f).unwrap(),
                0o644,
            )
        })
        .collect();
    assert!(
        files
            .iter()
            .any(|(p, _, _)| p.ends_with("/pip/__main__.py")),
        "pip's wheel has no pip/__main__.py"
    );
    files.push((
        "bin/pip".to_string(),
        b"#!/bin/sh\nexec \"$(dirname \"$0\")/python\" -m pip \"$@\"\n".to_vec(),
        0o755,
    ));
    let python_spec = format!("python >={}", minor.join("."));
    let pip = conda_package_with(
        channel,
        platform,
        "pip",
        &pip_version,
        &PackageExtras {
            build,
            depends: &[&python_spec],
            links: &[],
        },
        &files,
    );
    (vec![python, pip], version)
}

/// Indexes `records` of each subdir into `channel/<subdir>/repodata.json`.
fn index_channel(channel: &Path, subdirs: &[(&str, Vec<(String, serde_json::Value)>)]) {
    for (subdir, records) in subdirs {
        let packages: serde_json::Map<String, serde_json::Value> =
            records.iter().cloned().collect();
        std::fs::create_dir_all(channel.join(subdir)).unwrap();
        std::fs::write(
            channel.join(subdir).join("repodata.json"),
            serde_json::json!({"info": {"subdir": subdir}, "packages": packages, "packages.conda": {}})
                .to_string(),
        )
        .unwrap();
    }
}

/// The conda flavor, built for real: an environment.yml that does not name tini, locked against
/// a channel of real conda packages on 127.0.0.1 (Debian's static tini packaged as `tini`, and
/// a small noarch package), rendered on the miniforge3 stand-in, built with buildah and run with
/// podman. PID 1 is the env's tini (which `resolve` added), and `podman stop` returns within
/// 3 s with the app's own exit code 0: tini forwarded SIGTERM through the entrypoint script to
/// the app (an app without a handler is killed by it: 143). A `--no-init` lock builds too, and
/// its PID 1 is the entrypoint script's command.
#[test]
fn the_conda_flavor_builds_with_the_tini_resolve_added_and_stops_on_sigterm() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    let base = conda_standin(&harness);
    let tini = std::fs::read(static_tini()).unwrap();

    // The machine's own platform: Debian's tini is built for it.
    let platform = machine_platform();
    let work = tempfile::tempdir().unwrap();
    let channel = work.path().join("channel");
    let tini_pkg = conda_package(
        &channel,
        platform,
        "tini",
        "0.19.0",
        &[("bin/tini", tini, 0o755)],
    );
    let hello = conda_package(
        &channel,
        "noarch",
        "envlock-hello",
        "1.0",
        &[(
            "bin/envlock-hello",
            b"#!/bin/sh\necho hello from the env\n".to_vec(),
            0o755,
        )],
    );
    index_channel(
        &channel,
        &[(platform, vec![tini_pkg]), ("noarch", vec![hello])],
    );
    let server = common::Server::start(work.path(), common::Mode::Files);

    let dir = work.path().join("app");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("environment.yml"),
        format!(
            "channels: [{}/channel]\ndependencies: [envlock-hello]\n",
            server.url
        ),
    )
    .unwrap();
    std::fs::write(dir.join(".dockerignore"), ".cache\n").unwrap();
    let run = |args: &[&str]| {
        ok(envlock(&dir.join(".cache"))
            .current_dir(&dir)
            .args(args)
            .output()
            .unwrap())
    };
    let resolved = run(&["resolve", "-p", platform]);
    assert!(
        resolved.contains(&format!("added tini for the image's init to {platform}")),
        "{resolved}"
    );
    // The app traps SIGTERM and exits 0, as a server shutting down cleanly does.
    let cmd = r#"["bash", "-c", "trap 'exit 0' TERM; envlock-hello; sleep infinity & wait"]"#;
    run(&["dockerfile", "--base", &base, "--cmd", cmd]);

    let port = free_port();
    let tag = format!("localhost/envlock-conda:{port}");
    let out = harness_sh(&harness, &format!("hbuild -t {tag} {}", dir.display()));
    assert_ok(&out, "building the conda image");

    let name = format!("envlock-conda-{port}");
    let out = harness_sh(
        &harness,
        &format!("podman run -d --network host --name {name} {tag}"),
    );
    assert_ok(&out, "starting the conda image");
    let cleanup = Cleanup(harness.clone(), name.clone());
    let started = Instant::now();
    let logs = loop {
        let out = harness_sh(&harness, &format!("podman logs {name}"));
        let logs = String::from_utf8_lossy(&out.stdout).into_owned();
        if logs.contains("hello from the env") {
            break logs;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the app did not start: {logs}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(logs.contains("hello from the env"), "{logs}");
    assert_pid1_is_the_envs_tini(&harness, &name);

    let (took, code) = stop(&harness, &name, "stopping the conda image");
    assert_eq!(code, "0", "the app did not exit cleanly on SIGTERM");
    assert!(took < STOPPED_BEFORE_SIGKILL, "stopping took {took:?}");
    eprintln!("podman stop took {took:?}, exit code {code}");
    drop(cleanup);

    // An app without a SIGTERM handler is killed by the signal tini forwards: still quick, and
    // tini exits 128 + 15, as the docs say.
    let name = format!("envlock-conda-plain-{port}");
    let out = harness_sh(
        &harness,
        &format!("podman run -d --network host --name {name} {tag} sleep infinity"),
    );
    assert_ok(&out, "starting sleep");
    let cleanup = Cleanup(harness.clone(), name.clone());
    std::thread::sleep(Duration::from_millis(500));
    let (took, code) = stop(&harness, &name, "stopping sleep");
    assert_eq!(code, "143");
    assert!(took < STOPPED_BEFORE_SIGKILL, "stopping took {took:?}");
    drop(cleanup);

    // --no-init: no tini in the lock, and the entrypoint script execs the command as PID 1.
    let resolved = run(&["resolve", "--no-init"]);
    assert!(!resolved.contains("added tini"), "{resolved}");
    let lock = std::fs::read_to_string(dir.join("conda-lock.yml")).unwrap();
    assert!(!lock.contains("name: tini"), "{lock}");
    run(&["dockerfile"]);
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("ENTRYPOINT [\"/opt/envlock/entrypoint.sh\"]\n"),
        "{dockerfile}"
    );
    let tag = format!("localhost/envlock-conda-no-init:{port}");
    let out = harness_sh(&harness, &format!("hbuild -t {tag} {}", dir.display()));
    assert_ok(&out, "building the --no-init image");
    let out = harness_sh(
        &harness,
        &format!("hrun {tag} bash -c 'envlock-hello; echo $$; tr \"\\0\" \" \" < /proc/1/cmdline'"),
    );
    assert_ok(&out, "running the --no-init image");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("hello from the env\n1\nbash -c "),
        "{stdout}"
    );
    drop(server);
}

/// The diffIDs of `image`'s layers, base layers first.
fn layers(harness: &Path, image: &str) -> Vec<String> {
    let out = harness_sh(
        harness,
        &format!("podman image inspect --format '{{{{json .RootFS.Layers}}}}' {image}"),
    );
    assert_ok(&out, "inspecting the image's layers");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Builds `dir` into `tag` the way a reproducible build does: no layer reused, and every
/// file and the image stamped with time 0 (`buildah bud --timestamp 0`).
fn build_from_scratch(harness: &Path, tag: &str, dir: &Path) {
    let out = harness_sh(
        harness,
        &format!("hbuild --no-cache --timestamp 0 -t {tag} {}", dir.display()),
    );
    assert_ok(&out, &format!("building {tag} without the layer cache"));
}

/// A channel (`work/channel`, served by the returned server) of real conda packages for the
/// machine's platform: tini and small noarch packages named `envlock-*`, each printing its
/// name and version. Versions carry a nonce, so that the package cache of earlier runs (it
/// outlives them, under /var/tmp/buildah-cache) has none of them. Also the machine's platform.
struct CondaChannel {
    dir: PathBuf,
    platform: &'static str,
    nonce: u128,
    records: Vec<(String, Vec<(String, serde_json::Value)>)>,
    server: common::Server,
}

impl CondaChannel {
    fn new(work: &Path, names: &[&str]) -> CondaChannel {
        let platform = machine_platform();
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000;
        let dir = work.join("channel");
        let tini = std::fs::read(static_tini()).unwrap();
        let tini = conda_package(
            &dir,
            platform,
            "tini",
            &format!("0.19.{nonce}"),
            &[("bin/tini", tini, 0o755)],
        );
        let mut channel = CondaChannel {
            dir,
            platform,
            nonce,
            records: vec![
                (platform.to_string(), vec![tini]),
                ("noarch".into(), vec![]),
            ],
            server: common::Server::start(work, common::Mode::Files),
        };
        for name in names {
            channel.publish(name, "1");
        }
        channel
    }

    /// Publishes `name` at version `<major>.<nonce>` and indexes the channel again.
    fn publish(&mut self, name: &str, major: &str) {
        let version = format!("{major}.{}", self.nonce);
        // Some incompressible bytes, so that a package download is more than its index entry.
        let mut state = self.nonce as u64 ^ name.len() as u64;
        let filler: Vec<u8> = (0..64 * 1024)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 56) as u8
            })
            .collect();
        let record = conda_package(
            &self.dir,
            "noarch",
            name,
            &version,
            &[
                (
                    &format!("bin/{name}"),
                    format!("#!/bin/sh\necho {name} {version}\n").into_bytes(),
                    0o755,
                ),
                (&format!("share/{name}/filler"), filler, 0o644),
            ],
        );
        self.records[1].1.push(record);
        self.index();
    }

    /// Adds the conda `python` and `pip` of [`cpython_packages`], made from the image
    /// `standin`'s CPython and pip, with the nonce in their build strings; returns python's
    /// version.
    fn add_cpython(&mut self, harness: &Path, standin: &str) -> String {
        let build = format!("h{}_0", self.nonce);
        let (records, version) =
            cpython_packages(harness, standin, &self.dir, self.platform, &build);
        self.records[0].1.extend(records);
        self.index();
        version
    }

    fn index(&self) {
        let subdirs: Vec<(&str, Vec<(String, serde_json::Value)>)> = self
            .records
            .iter()
            .map(|(s, r)| (s.as_str(), r.clone()))
            .collect();
        index_channel(&self.dir, &subdirs);
    }

    /// The package files the server sent since the last call: (file name, bytes).
    fn downloads(&self) -> Vec<(String, usize)> {
        let hits = self.server.hits();
        self.server.clear();
        hits.into_iter()
            .filter(|h| h.method == "GET" && h.status == 200 && h.path.ends_with(".tar.bz2"))
            .map(|h| {
                let name = h.path.rsplit('/').next().unwrap_or_default().to_string();
                (name, h.bytes)
            })
            .collect()
    }
}

/// A conda project in `work/app` for `channel`, depending on `deps`; `envlock` in it.
fn conda_app(work: &Path, channel: &CondaChannel, deps: &[&str]) -> PathBuf {
    let dir = work.join("app");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("environment.yml"),
        format!(
            "channels: [{}/channel]\ndependencies: [{}]\n",
            channel.server.url,
            deps.join(", ")
        ),
    )
    .unwrap();
    std::fs::write(dir.join(".dockerignore"), ".cache\n").unwrap();
    dir
}

fn envlock_in(dir: &Path, args: &[&str]) -> String {
    ok(envlock(&dir.join(".cache"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap())
}

/// The Jupyter preset in the conda flavor, on the miniforge3 stand-in (which has no C
/// compiler): an environment.yml with conda's python and pip and a `pip:` section, locked
/// against the test's channel (a real CPython as conda's `python`, see [`cpython_packages`])
/// and PyPI. The image builds (the two sdists without wheels from their locked build set),
/// imports the lock's versions from the env's python, and `jupyter lab --version` runs, each
/// through the image's entrypoint, which activates the env.
#[test]
fn the_jupyter_preset_builds_in_the_conda_flavor_with_pip_packages() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    let base = conda_standin(&harness);
    assert_no_compiler(&harness, &base);
    let work = tempfile::tempdir().unwrap();
    let mut channel = CondaChannel::new(work.path(), &[]);
    let python = channel.add_cpython(&harness, &base);
    let dir = conda_app(
        work.path(),
        &channel,
        &[
            "python=3.11",
            "pip",
            "{pip: [jupyterlab, retrying==1.3.3, antlr4-python3-runtime==4.9.3]}",
        ],
    );
    let resolved = envlock_in(
        &dir,
        &[
            "resolve",
            "-p",
            channel.platform,
            "--exclude-newer",
            "2026-06-01",
        ],
    );
    assert!(
        resolved.contains("the image builds antlr4-python3-runtime 4.9.3 from its sdist"),
        "{resolved}"
    );
    let lock = dir.join("conda-lock.yml");
    assert_eq!(locked_version(&lock, "python"), python);
    envlock_in(
        &dir,
        &["dockerfile", "--base", &base, "--preset", "jupyter"],
    );
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("--no-build-isolation") && dockerfile.contains("conda create"),
        "{dockerfile}"
    );

    let tag = format!("localhost/envlock-conda-jupyter:{}", channel.nonce);
    let building = Instant::now();
    let out = harness_sh(&harness, &format!("hbuild -t {tag} {}", dir.display()));
    assert_ok(&out, "building the conda Jupyter image");
    eprintln!("the conda Jupyter image built in {:?}", building.elapsed());
    let out = harness_sh(
        &harness,
        &format!(
            "hrun {tag} python -c 'import sys, importlib.metadata as m, jupyterlab, zmq, argon2, retrying, antlr4; \
             print(sys.prefix, sys.version.split()[0], jupyterlab.__file__); \
             print(jupyterlab.__version__, zmq.__version__, m.version(\"argon2-cffi\"), \
             m.version(\"retrying\"), m.version(\"antlr4-python3-runtime\"))'"
        ),
    );
    assert_ok(&out, "importing in the conda Jupyter image");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let versions: Vec<String> = [
        "jupyterlab",
        "pyzmq",
        "argon2-cffi",
        "retrying",
        "antlr4-python3-runtime",
    ]
    .iter()
    .map(|name| locked_version(&lock, name))
    .collect();
    assert_eq!(
        stdout.trim(),
        format!(
            "/opt/conda/envs/env {python} /opt/conda/envs/env/lib/python3.11/site-packages/jupyterlab/__init__.py\n{}",
            versions.join(" ")
        ),
        "the env's python, the locked versions"
    );
    let out = harness_sh(&harness, &format!("hrun {tag} jupyter lab --version"));
    assert_ok(&out, "jupyter lab --version");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), versions[0]);
}

/// The conda flavor of an environment.yml whose `pip:` section names the local project
/// (`-e .`) and a git requirement, with conda's python and pip (a real CPython, see
/// [`cpython_packages`]) from the test's channel: the image builds on the miniforge3 stand-in
/// (no git in it), its env's python imports both, and an edit of only the project's source
/// rebuilds only the layers after the env and the locked installs.
#[test]
fn the_conda_flavor_builds_a_local_project_and_a_git_requirement_from_pip() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    let base = conda_standin(&harness);
    let work = tempfile::tempdir().unwrap();
    let mut channel = CondaChannel::new(work.path(), &[]);
    channel.add_cpython(&harness, &base);
    let nonce = nonce();
    let (repo, commit) = demo_git_repo(nonce);
    let dir = work.path().join("app");
    std::fs::create_dir(&dir).unwrap();
    write_demo_app(&dir, "one", nonce);
    std::fs::write(
        dir.join("environment.yml"),
        local_and_git_environment(
            &format!("channels: [{}/channel]\n", channel.server.url),
            repo.path(),
        ),
    )
    .unwrap();
    std::fs::write(dir.join(".dockerignore"), ".cache\n").unwrap();
    envlock_in(
        &dir,
        &[
            "resolve",
            "-p",
            channel.platform,
            "--exclude-newer",
            "2024-06-01",
        ],
    );
    envlock_in(&dir, &["dockerfile", "--base", &base]);
    assert_git_requirement_is_packed(&dir, &commit);
    let tag = format!("localhost/envlock-conda-git:{}", channel.nonce);
    let project = LocalAndGit {
        dir: &dir,
        tag: &tag,
        nonce,
        prefix: "/opt/conda/envs/env",
        env_step: "conda create",
    };
    project.build_edit_and_rebuild(&harness);
}

/// conda's package cache is a BuildKit cache mount: after one locked package changes, the
/// rebuild (its env layer runs again, as the locked files changed) downloads that package
/// alone, as the test's channel server counts; the first build downloaded all of them. The
/// image holds no package archive and no file hard-linked into the cache (conda copies), and
/// runs the changed package.
#[test]
fn a_rebuild_after_one_package_changed_downloads_only_that_package() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    let base = conda_standin(&harness);
    let work = tempfile::tempdir().unwrap();
    let mut channel = CondaChannel::new(work.path(), &["envlock-a", "envlock-b", "envlock-c"]);
    let dir = conda_app(
        work.path(),
        &channel,
        &["envlock-a", "envlock-b", "envlock-c"],
    );
    envlock_in(&dir, &["resolve", "-p", channel.platform]);
    envlock_in(&dir, &["dockerfile", "--base", &base]);
    let tag = format!("localhost/envlock-conda-cache:{}", channel.nonce);
    channel.downloads();
    let build = || {
        let out = harness_sh(&harness, &format!("hbuild -t {tag} {}", dir.display()));
        assert_ok(&out, "building the conda image");
    };
    build();
    let first = channel.downloads();
    let mut names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    let v = channel.nonce;
    assert_eq!(
        names,
        [
            format!("envlock-a-1.{v}-h0_0.tar.bz2"),
            format!("envlock-b-1.{v}-h0_0.tar.bz2"),
            format!("envlock-c-1.{v}-h0_0.tar.bz2"),
            format!("tini-0.19.{v}-h0_0.tar.bz2"),
        ],
        "the first build downloads every package once"
    );

    // envlock-b 2 is published and locked; nothing else moves.
    channel.publish("envlock-b", "2");
    std::fs::write(
        dir.join("environment.yml"),
        format!(
            "channels: [{}/channel]\ndependencies: [envlock-a, envlock-b>=2, envlock-c]\n",
            channel.server.url
        ),
    )
    .unwrap();
    envlock_in(&dir, &["resolve"]);
    envlock_in(&dir, &["dockerfile"]);
    channel.downloads();
    build();
    let second = channel.downloads();
    let bytes = |d: &[(String, usize)]| d.iter().map(|(_, b)| b).sum::<usize>();
    eprintln!(
        "first build: {} package downloads, {} bytes; rebuild: {} downloads, {} bytes",
        first.len(),
        bytes(&first),
        second.len(),
        bytes(&second)
    );
    let names: Vec<&str> = second.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [format!("envlock-b-2.{v}-h0_0.tar.bz2")],
        "the rebuild downloads the changed package alone"
    );
    assert!(bytes(&second) < bytes(&first));

    // The cache stayed out of the image, and the env works without it.
    let out = harness_sh(
        &harness,
        &format!(
            "hrun {tag} bash -c 'envlock-a; envlock-b; \
             stat -c %h /opt/conda/envs/env/share/envlock-a/filler; \
             ls /opt/conda/pkgs | grep -c envlock || true'"
        ),
    );
    assert_ok(&out, "running the rebuilt image");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("envlock-a 1.{v}\nenvlock-b 2.{v}\n1\n0\n"),
        "the new envlock-b, one link per file, no package in /opt/conda/pkgs"
    );
}

/// Reproducible layers (slow: four builds without the layer cache). Two `--no-cache
/// --timestamp 0` builds of one lock give the same diffID for every layer, those envlock's
/// Dockerfile writes included (its files, the env, the app): for the venv flavor (pip's pyc
/// files are checked-hash under the lock's SOURCE_DATE_EPOCH and PYTHONHASHSEED=0; without
/// them 700-odd differ) and for the conda flavor (the env's `conda-meta/history` is emptied;
/// the package cache is a mount, outside the layer; the first build fills it, the second
/// takes every package from it).
#[test]
fn two_builds_of_one_lock_from_scratch_give_identical_layers() {
    let Some(harness) = harness() else { return };
    prepare(&harness);

    // The venv flavor, a small env: six, and pip and setuptools in the venv.
    let digest = python_standin(&harness);
    let app = tempfile::tempdir().unwrap();
    let dir = app.path();
    std::fs::write(dir.join("requirements.txt"), "six==1.16.0\n").unwrap();
    std::fs::write(dir.join("app.py"), "import six\nprint(six.__version__)\n").unwrap();
    resolve_for_python_3_11(dir, "requirements.txt", "2024-06-01");
    render_venv(dir, &digest, &[]);
    let base = layers(&harness, &format!("localhost/python:3.11-slim@{digest}"));
    let built: Vec<Vec<String>> = ["one", "two"]
        .iter()
        .map(|n| {
            let tag = format!("localhost/envlock-repro-venv:{n}");
            build_from_scratch(&harness, &tag, dir);
            layers(&harness, &tag)
        })
        .collect();
    assert_eq!(
        built[0].len(),
        base.len() + 3,
        "the base's layers, then envlock/, the env and the app: {built:?}"
    );
    assert_eq!(built[0], built[1], "the venv image's layers differ");

    // The conda flavor.
    let base = conda_standin(&harness);
    let work = tempfile::tempdir().unwrap();
    let channel = CondaChannel::new(work.path(), &["envlock-a"]);
    let dir = conda_app(work.path(), &channel, &["envlock-a"]);
    envlock_in(&dir, &["resolve", "-p", channel.platform]);
    envlock_in(&dir, &["dockerfile", "--base", &base]);
    channel.downloads();
    let built: Vec<(Vec<String>, usize)> = ["one", "two"]
        .iter()
        .map(|n| {
            let tag = format!("localhost/envlock-repro-conda:{n}");
            build_from_scratch(&harness, &tag, &dir);
            (layers(&harness, &tag), channel.downloads().len())
        })
        .collect();
    // The first build filled the package cache (tini and envlock-a), the second took both from
    // it: a cold and a warm cache give the same layers.
    assert_eq!(
        (built[0].1, built[1].1),
        (2, 0),
        "package downloads per build"
    );
    let built: Vec<Vec<String>> = built.into_iter().map(|(l, _)| l).collect();
    let base = layers(&harness, &base);
    assert!(built[0].len() > base.len() + 2, "{built:?}");
    assert_eq!(built[0], built[1], "the conda image's layers differ");
}

/// pip's cache is a BuildKit cache mount too: after one locked wheel changed, the rebuild
/// (its env layer runs again) downloads that wheel alone; pip revalidates the others it
/// cached (the test's index sends ETags, and answers 304), as the index server counts.
///
/// pip caches responses only from HTTPS origins and `--trusted-host`s (PyPI is HTTPS and sends
/// `Cache-Control: max-age`; this machine's TLS-intercepting proxy strips those headers, so
/// PyPI cannot show it here). The test's index is plain HTTP on 127.0.0.1, so the test adds
/// `--trusted-host 127.0.0.1` to the rendered requirements file, for pip to cache it as it
/// caches an HTTPS index; envlock renders no such line.
#[test]
fn a_venv_rebuild_after_one_wheel_changed_downloads_only_that_wheel() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    let digest = python_standin(&harness);
    let work = tempfile::tempdir().unwrap();
    let mut index = common::pypi_index::Index::new(&work.path().join("index"));
    for (name, version) in [
        ("envlock-pa", "1.0"),
        ("envlock-pb", "1.0"),
        ("envlock-pb", "2.0"),
        ("envlock-pc", "1.0"),
    ] {
        index.wheel(name, version);
    }
    index.write();
    let server = common::Server::start(&work.path().join("index"), common::Mode::Files);
    let dir = work.path().join("app");
    std::fs::create_dir(&dir).unwrap();
    let requirements = |pb: &str| {
        std::fs::write(
            dir.join("requirements.txt"),
            format!(
                "--index-url {}/simple/\nenvlock-pa\nenvlock-pb=={pb}\nenvlock-pc\n",
                server.url
            ),
        )
        .unwrap();
    };
    let downloads = || {
        let hits = server.hits();
        server.clear();
        let wheels: Vec<_> = hits
            .into_iter()
            .filter(|h| h.method == "GET" && h.path.ends_with(".whl"))
            .collect();
        let sent: Vec<String> = wheels
            .iter()
            .filter(|h| h.status == 200)
            .map(|h| h.path.rsplit('/').next().unwrap_or_default().to_string())
            .collect();
        let bytes: usize = wheels.iter().map(|h| h.bytes).sum();
        (sent, bytes)
    };
    requirements("1.0");
    resolve_for_python_3_11(&dir, "requirements.txt", "2024-06-01");
    render_venv(&dir, &digest, &[]);
    let trust_the_test_index = || {
        let file = dir.join("envlock/pip-linux-64.txt");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("--trusted-host"), "{text}");
        std::fs::write(&file, format!("{text}--trusted-host 127.0.0.1\n")).unwrap();
    };
    trust_the_test_index();
    let tag = format!("localhost/envlock-pip-cache:{}", free_port());
    let build = || {
        let out = harness_sh(&harness, &format!("hbuild -t {tag} {}", dir.display()));
        assert_ok(&out, "building the venv image");
    };
    downloads();
    build();
    let (mut first, first_bytes) = downloads();
    first.sort();
    assert_eq!(
        first,
        [
            "envlock_pa-1.0-py3-none-any.whl",
            "envlock_pb-1.0-py3-none-any.whl",
            "envlock_pc-1.0-py3-none-any.whl"
        ],
        "the first build downloads every wheel"
    );

    requirements("2.0");
    resolve_for_python_3_11(&dir, "requirements.txt", "2024-06-01");
    render_venv(&dir, &digest, &[]);
    trust_the_test_index();
    downloads();
    build();
    let (second, second_bytes) = downloads();
    eprintln!(
        "first build: {} wheels, {first_bytes} bytes; rebuild: {second:?}, {second_bytes} bytes",
        first.len()
    );
    assert_eq!(
        second,
        ["envlock_pb-2.0-py3-none-any.whl"],
        "the rebuild downloads the changed wheel alone"
    );
    assert!(second_bytes < first_bytes);
    let out = harness_sh(
        &harness,
        &format!(
            "hrun {tag} python -c 'import importlib.metadata as m; print(m.version(\"envlock-pb\"))'"
        ),
    );
    assert_ok(&out, "running the rebuilt image");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2.0");
}

/// conda's own lockfile plugin (conda-lockfiles, from PyPI, in the miniforge3 stand-in's real
/// conda) reads envlock's lock: `conda create --file conda-lock.yml` installs the locked
/// packages from the test's channel, and refuses a package whose sha256 was changed.
#[test]
fn condas_lockfile_plugin_installs_an_envlock_lock() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    let conda = conda_standin(&harness);
    let work = tempfile::tempdir().unwrap();
    let channel = CondaChannel::new(work.path(), &["envlock-hello"]);
    let app = conda_app(work.path(), &channel, &["envlock-hello"]);
    envlock_in(
        &app,
        &["resolve", "environment.yml", "-p", channel.platform],
    );
    let lock = std::fs::read_to_string(app.join("conda-lock.yml")).unwrap();
    assert!(lock.contains("created_by: envlock "), "{lock}");

    let context = work.path().join("plugin");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("conda-lock.yml"), &lock).unwrap();
    // The tampered copy: one locked sha256 replaced.
    let sha = lock
        .lines()
        .find_map(|l| l.trim().strip_prefix("sha256: "))
        .unwrap()
        .to_string();
    // conda tells the format by the file name, so the tampered copy is a conda-lock.yml too.
    std::fs::create_dir_all(context.join("bad")).unwrap();
    std::fs::write(
        context.join("bad/conda-lock.yml"),
        lock.replace(&sha, &"f".repeat(64)),
    )
    .unwrap();
    std::fs::write(
        context.join("Containerfile"),
        format!(
            "FROM {conda}\n\
             RUN python -m pip install --no-cache-dir conda-lockfiles==0.2.2\n\
             COPY conda-lock.yml /work/\n\
             COPY bad/conda-lock.yml /work/bad/\n"
        ),
    )
    .unwrap();
    let tag = "localhost/envlock-conda-lockfiles:test";
    let out = harness_sh(&harness, &format!("hbuild -t {tag} {}", context.display()));
    assert_ok(&out, "building conda with its lockfile plugin");
    let out = harness_sh(
        &harness,
        &format!(
            "hrun {tag} sh -c 'conda create --yes --name fromlock --file /work/conda-lock.yml \
             && /opt/conda/envs/fromlock/bin/envlock-hello'"
        ),
    );
    assert_ok(&out, "conda create --file conda-lock.yml");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("envlock-hello 1.{}", channel.nonce)),
        "{stdout}"
    );
    let out = harness_sh(
        &harness,
        &format!("hrun {tag} conda create --yes --name bad --file /work/bad/conda-lock.yml"),
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "a changed sha256 installed:\n{said}");
    assert!(said.to_ascii_lowercase().contains("checksum"), "{said}");
}

/// `--runtime slim`, built for real from the same kind of local channel as the conda test above:
/// the builder is the miniforge3 stand-in, the runtime the harness's Debian (tagged
/// `debian:bookworm-slim`, given with its digest). PID 1 is the env's tini, `podman stop`
/// returns within 3 s with exit 0, a package's activate.d script has run (the entrypoint
/// activates the env without conda), conda is absent, two `--no-cache --timestamp 0` builds
/// give the same layers, and the slim image is smaller than the single-stage one of the same
/// lock (both sizes are printed).
#[test]
fn the_slim_runtime_runs_the_env_without_conda_and_is_smaller() {
    let Some(harness) = harness() else { return };
    prepare(&harness);
    let base = conda_standin(&harness);
    let tini = std::fs::read(static_tini()).unwrap();
    let platform = machine_platform();
    let work = tempfile::tempdir().unwrap();
    let channel = work.path().join("channel");
    let tini_pkg = conda_package(
        &channel,
        platform,
        "tini",
        "0.19.0",
        &[("bin/tini", tini, 0o755)],
    );
    let hello = conda_package(
        &channel,
        "noarch",
        "envlock-hello",
        "1.0",
        &[
            (
                "bin/envlock-hello",
                b"#!/bin/sh\necho hello from the env\n".to_vec(),
                0o755,
            ),
            (
                "etc/conda/activate.d/envlock-hello.sh",
                b"export ENVLOCK_HELLO_ACTIVATED=yes\n".to_vec(),
                0o644,
            ),
        ],
    );
    index_channel(
        &channel,
        &[(platform, vec![tini_pkg]), ("noarch", vec![hello])],
    );
    let server = common::Server::start(work.path(), common::Mode::Files);
    let dir = work.path().join("app");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("environment.yml"),
        format!(
            "channels: [{}/channel]\ndependencies: [envlock-hello]\n",
            server.url
        ),
    )
    .unwrap();
    std::fs::write(dir.join(".dockerignore"), ".cache\n").unwrap();
    envlock_in(&dir, &["resolve", "-p", platform]);
    let cmd = r#"["bash", "-c", "trap 'exit 0' TERM; envlock-hello; sleep infinity & wait"]"#;
    let port = free_port();
    let size = |tag: &str| -> u64 {
        let out = harness_sh(
            &harness,
            &format!("podman image inspect --format '{{{{.Size}}}}' {tag}"),
        );
        assert_ok(&out, "reading the image size");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };

    // The single-stage image of the lock, for its size.
    envlock_in(&dir, &["dockerfile", "--base", &base, "--cmd", cmd]);
    let single = format!("localhost/envlock-single:{port}");
    let out = harness_sh(&harness, &format!("hbuild -t {single} {}", dir.display()));
    assert_ok(&out, "building the single-stage image");

    let out = harness_sh(
        &harness,
        "podman image inspect --format '{{.Digest}}' docker.io/library/debian:bookworm-slim",
    );
    assert_ok(&out, "reading the Debian base's digest");
    let runtime = format!(
        "debian:bookworm-slim@{}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
    envlock_in(
        &dir,
        &[
            "dockerfile",
            "--runtime",
            "slim",
            "--runtime-base",
            &runtime,
        ],
    );
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains(&format!("\nFROM {runtime}\n")) && dockerfile.contains(cmd),
        "{dockerfile}"
    );
    let slim = format!("localhost/envlock-slim:{port}");
    let out = harness_sh(&harness, &format!("hbuild -t {slim} {}", dir.display()));
    assert_ok(&out, "building the slim image");

    // No conda in the runtime; the activate.d script ran.
    let out = harness_sh(&harness, &format!("hrun {slim} bash -c 'command -v conda'"));
    assert!(
        !out.status.success(),
        "conda is in the slim runtime: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = harness_sh(&harness, &format!("hrun {slim} env"));
    assert_ok(&out, "running env in the slim image");
    let env = String::from_utf8_lossy(&out.stdout);
    assert!(
        env.lines().any(|l| l == "ENVLOCK_HELLO_ACTIVATED=yes")
            && env.lines().any(|l| l == "CONDA_PREFIX=/opt/conda/envs/env"),
        "{env}"
    );

    let name = format!("envlock-slim-{port}");
    let out = harness_sh(
        &harness,
        &format!("podman run -d --network host --name {name} {slim}"),
    );
    assert_ok(&out, "starting the slim image");
    let cleanup = Cleanup(harness.clone(), name.clone());
    let started = Instant::now();
    loop {
        let out = harness_sh(&harness, &format!("podman logs {name}"));
        let logs = String::from_utf8_lossy(&out.stdout).into_owned();
        if logs.contains("hello from the env") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the app did not start: {logs}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_pid1_is_the_envs_tini(&harness, &name);
    let (took, code) = stop(&harness, &name, "stopping the slim image");
    assert_eq!(code, "0", "the app did not exit cleanly on SIGTERM");
    assert!(took < STOPPED_BEFORE_SIGKILL, "stopping took {took:?}");
    drop(cleanup);

    // Reproducible: two builds from scratch give the slim image the same layers.
    let (first, second) = (
        format!("localhost/envlock-slim-repro-a:{port}"),
        format!("localhost/envlock-slim-repro-b:{port}"),
    );
    build_from_scratch(&harness, &first, &dir);
    build_from_scratch(&harness, &second, &dir);
    assert_eq!(
        layers(&harness, &first),
        layers(&harness, &second),
        "two builds of one lock gave the slim image different layers"
    );
    let _ = harness_sh(&harness, &format!("podman rmi {first} {second}"));

    let (single_size, slim_size) = (size(&single), size(&slim));
    eprintln!(
        "image sizes: single {single_size} bytes ({:.1} MB), slim {slim_size} bytes ({:.1} MB); podman stop took {took:?}, exit code {code}",
        single_size as f64 / 1e6,
        slim_size as f64 / 1e6
    );
    assert!(slim_size < single_size, "{slim_size} >= {single_size}");
    let _ = harness_sh(&harness, &format!("podman rmi {single} {slim}"));
    drop(server);
}
