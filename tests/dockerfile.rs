//! `envlock dockerfile` on real locks: lint-clean (hadolint 2.15) and parseable by BuildKit's
//! own parser for every preset and flavor, deterministic, injection-safe, and with an
//! architecture selection that works when run.

mod common;

use std::process::{Command, Output};

use common::{
    Mode, Project, fails, fixture_channels,
    lint::{hadolint, lint_tools, parse, run_steps},
    ok,
};

const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

/// A locked project: python 3.11, pip and (unless `pip_only`) tini from the pyconda channel,
/// plus `app` and gunicorn from a local index, for linux-64 and linux-aarch64.
fn locked(pip_only: bool) -> Project {
    let p = Project::new().serve_index(Mode::Files, |index| {
        index.wheel("app", "1.0").requires(&["gunicorn"]);
        index.wheel("gunicorn", "22.0.0");
        index.wheel("jupyterlab", "4.2.1");
    });
    let channel = fixture_channels().join("pyconda");
    let input = if pip_only {
        p.write("requirements.txt", "app\njupyterlab\n");
        "requirements.txt"
    } else {
        p.write(
            "environment.yml",
            &format!(
                "channels: [{}]\ndependencies:\n  - python=3.11\n  - pip\n  - tini\n  - pip:\n    - app\n    - jupyterlab\n",
                channel.display()
            ),
        );
        "environment.yml"
    };
    let mut resolve = p.command(&[
        "resolve",
        input,
        "--python",
        "3.11",
        "-p",
        "linux-64",
        "-p",
        "linux-aarch64",
    ]);
    resolve
        .args(["--index-url", &p.index_url(), "-c"])
        .arg(&channel);
    ok(resolve.output().unwrap());
    p
}

/// `envlock dockerfile ARGS` in the project.
fn dockerfile(p: &Project, args: &[&str]) -> Command {
    let mut cmd = p.command(&["dockerfile"]);
    cmd.args(args);
    cmd
}

fn render(p: &Project, args: &[&str]) -> Output {
    dockerfile(p, args).output().unwrap()
}

/// Every file `envlock dockerfile` wrote, one after the other, for a golden snapshot.
fn rendered_files(p: &Project) -> String {
    let mut names = vec!["Dockerfile".to_string(), ".dockerignore".to_string()];
    let mut generated: Vec<String> = std::fs::read_dir(p.path("envlock"))
        .unwrap()
        .map(|e| format!("envlock/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    generated.sort();
    names.extend(generated);
    names
        .iter()
        .map(|name| format!("----- {name} -----\n{}", p.read(name)))
        .collect()
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
    let conda = locked(false);
    let venv = locked(true);
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
        ok(render(project, &[&["--reset"], args.as_slice()].concat()));
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
        // The package caches are BuildKit cache mounts, which BuildKit reads as the RUN's
        // flags: downloads are reused by the next build and never land in a layer.
        let pip_cache = "--mount=type=cache,target=/root/.cache/pip,sharing=locked";
        let conda_cache = "--mount=type=cache,target=/opt/conda/pkgs,sharing=locked";
        for (flags, command) in run_steps(&tools, &path) {
            if command.contains("conda create") {
                assert_eq!(flags, [conda_cache], "{args:?}: {command}");
                assert!(command.contains("--copy"), "{args:?}: {command}");
                assert!(!command.contains("conda clean"), "{args:?}: {command}");
            } else if command.contains("pip install") {
                assert_eq!(flags, [pip_cache], "{args:?}: {command}");
                assert!(!command.contains("--no-cache-dir"), "{args:?}: {command}");
            } else {
                assert!(flags.is_empty(), "{args:?}: {flags:?} {command}");
            }
        }
        assert!(
            text.contains("\nARG SOURCE_DATE_EPOCH=") && text.contains("\nARG PYTHONHASHSEED=0\n"),
            "{args:?}"
        );
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
    let p = locked(false);
    ok(render(&p, &["--preset", "flask"]));
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
    ok(render(&p, &["--preset", "flask"]));
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
    ok(render(&p, &["--explicit-hash", "md5"]));
    assert!(!p.read("envlock/conda-linux-64.txt").contains("#sha256:"));
}

#[test]
fn architectures_select_their_locked_platform_when_run() {
    let tools = lint_tools();
    let p = locked(false);
    ok(render(&p, &[]));
    let parsed = parse(&tools, &p.path("Dockerfile"));
    // The env's prefix moves into the test's directory, so that the RUN can touch its files.
    let prefix = p.path("env");
    let select = instruction(&parsed, "RUN")[0].2[0]
        .replace("/opt/conda/envs/env", &prefix.display().to_string());
    let select = &select;
    // Run the first RUN for real, with conda and the system tools stubbed to record their calls;
    // the conda stub writes the time-stamped files conda 26 writes into the env.
    let stubs = p.path("stubs");
    std::fs::create_dir_all(&stubs).unwrap();
    for tool in ["conda", "useradd", "chmod", "cp"] {
        let mut script = format!("#!/bin/sh\necho \"{tool} $*\" >> \"$STUB_LOG\"\n");
        if tool == "conda" {
            let meta = prefix.join("conda-meta");
            script.push_str(&format!(
                "mkdir -p {meta}\necho '==> 2026-12-03 10:00:00 <==' > {meta}/history\n\
                 printf 1796292791.952824 > {meta}/created_at\n",
                meta = meta.display()
            ));
        }
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
            .env("SOURCE_DATE_EPOCH", "1717286399")
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
        log.contains(
            "conda create --name env --file /opt/envlock/conda-linux-aarch64.txt --yes --copy"
        ),
        "{log}"
    );
    // The build's time is gone from the env: an empty history, created at SOURCE_DATE_EPOCH.
    let meta = prefix.join("conda-meta");
    assert_eq!(std::fs::read_to_string(meta.join("history")).unwrap(), "");
    assert_eq!(
        std::fs::read_to_string(meta.join("created_at")).unwrap(),
        "1717286399"
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
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "envlock: the lock has no platform for architecture ppc64le (locked: linux-64 linux-aarch64); run envlock resolve -p for it\n"
    );
}

#[test]
fn commands_cannot_inject_instructions() {
    let tools = lint_tools();
    let p = locked(false);
    ok(render(&p, &["--cmd", "python -c 'x'"]));
    let baseline = parse(&tools, &p.path("Dockerfile")).len();
    let evil = "[\"python\", \"\\\"]\\nRUN touch /pwned\\n#\"]";
    ok(render(&p, &["--cmd", evil]));
    let parsed = parse(&tools, &p.path("Dockerfile"));
    assert_eq!(parsed.len(), baseline, "{}", p.read("Dockerfile"));
    let cmd = &instruction(&parsed, "CMD")[0].2;
    assert_eq!(cmd, &["python", "\"]\nRUN touch /pwned\n#"]);
    // --run steps cannot add instructions either: a newline, a trailing backslash and a heredoc
    // all stay inside their own RUN.
    ok(render(&p, &["--reset"]));
    let baseline = parse(&tools, &p.path("Dockerfile")).len();
    for step in [
        "echo a\nUSER root",
        "echo hi \\",
        "cat <<EOF\nUSER root\nEOF",
    ] {
        ok(render(&p, &["--reset", "--run", step]));
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
    fails(envlock_snapshot!(
        p,
        dockerfile(&p, &["--dir", "../outside"]),
        "dir_outside_the_context"
    ));
}

#[test]
fn bad_options_are_errors_with_a_fix() {
    let p = locked(false);
    ok(render(&p, &[]));
    let before = p.read("Dockerfile");
    for (name, args) in [
        ("cmd_unclosed_quote", &["--cmd", "python -c 'x"][..]),
        ("cmd_empty", &["--cmd", ""]),
        ("cmd_bad_json", &["--cmd", "[\"python\", 1]"]),
        ("run_empty", &["--run", ""]),
        ("base_not_an_image_reference", &["--base", "python 3.11"]),
        ("lockfile_missing", &["--lockfile", "nosuch.yml"]),
    ] {
        fails(envlock_snapshot!(p, dockerfile(&p, args), name));
    }
    assert_eq!(p.read("Dockerfile"), before, "a refused run writes nothing");
}

#[test]
fn golden_files_for_every_flavor_and_preset() {
    let conda = locked(false);
    let venv = locked(true);
    let conda_base = format!("condaforge/miniforge3:24.3.0-0@{DIGEST}");
    let venv_base = format!("python:3.11-slim@{DIGEST}");
    for (flavor, p, base) in [("conda", &conda, conda_base), ("venv", &venv, venv_base)] {
        for preset in ["python", "flask", "jupyter"] {
            let args = [
                "--reset", "--flavor", flavor, "--base", &base, "--preset", preset,
            ];
            ok(envlock_snapshot!(
                p,
                dockerfile(p, &args),
                format!("render_{flavor}_{preset}")
            ));
            p.settings().bind(|| {
                insta::assert_snapshot!(format!("golden_{flavor}_{preset}"), rendered_files(p))
            });
        }
    }
}

#[test]
fn the_base_is_pinned_recorded_and_reused() {
    let p = locked(false);
    let pinned = format!("condaforge/miniforge3:24.3.0-0@{DIGEST}");
    ok(render(&p, &["--base", &pinned]));
    assert!(p.read("Dockerfile").contains(&format!("FROM {pinned}\n")));
    let lock = envlock::lock::read(&p.path("conda-lock.yml")).unwrap();
    assert_eq!(
        lock.metadata.custom_metadata.unwrap()["envlock.docker.base"],
        pinned
    );
    // Without --base, the recorded base is kept: rebuilds stay on it.
    ok(render(&p, &[]));
    assert!(p.read("Dockerfile").contains(&format!("FROM {pinned}\n")));
    // A tag from an unreachable registry is a clear error, and nothing is overwritten.
    let before = p.read("Dockerfile");
    fails(envlock_snapshot!(
        p,
        dockerfile(&p, &["--base", "127.0.0.1:9/team/base:1.0"]),
        "base_from_an_unreachable_registry"
    ));
    assert_eq!(p.read("Dockerfile"), before);
}

#[test]
fn what_cannot_be_built_is_refused_with_a_fix() {
    // No channel offers tini, so resolve adds none (and says so): the default entrypoint needs
    // it, and the fix names --no-init.
    let p = Project::new();
    p.write(
        "environment.yml",
        &format!(
            "channels: [{}]\ndependencies:\n  - python\n",
            fixture_channels().join("synthetic").display()
        ),
    );
    let resolved = ok(p.run(&["resolve", "-p", "linux-64"]));
    assert!(
        resolved.contains("warning: tini is not added for the image's init on linux-64 ("),
        "{resolved}"
    );
    fails(envlock_snapshot!(p, dockerfile(&p, &[]), "tini_not_locked"));
    // With --no-init, the same lock renders: the entrypoint script is PID 1.
    ok(p.run(&["resolve", "--no-init"]));
    ok(dockerfile(&p, &[]).output().unwrap());
    let text = std::fs::read_to_string(p.path("Dockerfile")).unwrap();
    assert!(
        text.contains("ENTRYPOINT [\"/opt/envlock/entrypoint.sh\"]\n"),
        "{text}"
    );
    // The venv flavor cannot carry conda packages.
    let p = locked(false);
    let base = format!("--base=python:3.11-slim@{DIGEST}");
    fails(envlock_snapshot!(
        p,
        dockerfile(&p, &["--flavor", "venv", &base]),
        "venv_with_conda_packages"
    ));
    // A malformed lockfile.
    std::fs::write(p.path("conda-lock.yml"), "version: 1\npackage: [").unwrap();
    fails(envlock_snapshot!(
        p,
        dockerfile(&p, &[]),
        "malformed_lockfile"
    ));
    // A lock without a Linux platform has nothing to build from.
    let p = Project::new();
    p.write(
        "environment.yml",
        &format!(
            "channels: [{}]\ndependencies:\n  - python=3.11\n",
            fixture_channels().join("pyconda").display()
        ),
    );
    ok(p.run(&["resolve", "-p", "osx-arm64"]));
    fails(envlock_snapshot!(
        p,
        dockerfile(&p, &[]),
        "no_linux_platform"
    ));
}

#[test]
fn a_plain_rerun_keeps_the_recorded_options_and_reset_drops_them() {
    let p = locked(false);
    ok(render(
        &p,
        &[
            "--preset",
            "flask",
            "--run",
            "echo build",
            "--entrypoint",
            "conda-run",
        ],
    ));
    let first = p.read("Dockerfile");
    ok(render(&p, &[]));
    assert_eq!(
        p.read("Dockerfile"),
        first,
        "a plain re-run must render the same image"
    );
    ok(render(&p, &["--reset"]));
    let reset = p.read("Dockerfile");
    assert!(
        !reset.contains("echo build") && !reset.contains("EXPOSE 8000") && reset.contains("tini"),
        "{reset}"
    );
}

#[test]
fn a_base_with_an_older_glibc_than_the_lock_is_refused() {
    // Locked for the default __glibc=2.28.
    let p = locked(false);
    ok(render(&p, &[]));
    let before = p.read("Dockerfile");
    let base = |image: &str| format!("--base={image}@{DIGEST}");
    // CentOS 7 has glibc 2.17; Alpine has none.
    fails(envlock_snapshot!(
        p,
        dockerfile(&p, &[&base("centos:7")]),
        "base_glibc_too_old"
    ));
    fails(envlock_snapshot!(
        p,
        dockerfile(&p, &[&base("alpine:3.20")]),
        "base_musl"
    ));
    assert_eq!(p.read("Dockerfile"), before, "a refused run writes nothing");
    // Debian buster has exactly 2.28; an image envlock knows nothing about passes unclaimed.
    ok(render(&p, &[&base("debian:buster-slim")]));
    ok(render(&p, &[&base("ghcr.io/acme/base:1.0")]));
    // Locked for CentOS 7's glibc, CentOS 7 will do.
    let resolve = |glibc: &str| {
        let mut resolve = p.command(&["resolve", "--virtual-package", glibc]);
        resolve.args(["--index-url", &p.index_url()]);
        ok(resolve.output().unwrap());
    };
    resolve("__glibc=2.17");
    ok(render(&p, &[&base("centos:7")]));
    // Solved again for a newer glibc, the recorded base no longer fits: check says so.
    resolve("__glibc=2.28");
    let out = p.run(&["check", "--index-url", &p.index_url()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("drift: the base image centos:7 has glibc 2.17, older than the __glibc=2.28"),
        "{err}"
    );
}

/// Adds to the project's lock, on every platform, an sdist with a locked build set (as
/// `resolve` records one) and an sdist without one.
fn add_sdists(p: &Project) {
    let path = p.path("conda-lock.yml");
    let mut lock = envlock::lock::read(&path).unwrap();
    let mut meta = envlock::lock::EnvlockMeta::read(&lock).unwrap();
    let pip =
        |name: &str, file: &str, category: &str, platform: &str| rattler_conda_lock::Package {
            name: name.into(),
            version: "1.0".into(),
            manager: rattler_conda_lock::Manager::Pip,
            platform: platform.into(),
            dependencies: Default::default(),
            url: format!("https://files.example/{file}"),
            hash: rattler_conda_lock::Hashes {
                md5: None,
                sha256: Some("1".repeat(64)),
            },
            source: None,
            build: None,
            category: category.into(),
            optional: category == "build",
        };
    for platform in lock.metadata.platforms.clone() {
        lock.package
            .push(pip("srcpkg", "srcpkg-1.0.tar.gz", "main", &platform));
        lock.package
            .push(pip("oldsrc", "oldsrc-1.0.tar.gz", "main", &platform));
        lock.package.push(pip(
            "setuptools",
            "setuptools-1.0-py3-none-any.whl",
            "build",
            &platform,
        ));
        let record = envlock::lock::SdistBuildRecord {
            version: "1.0".into(),
            requires: Some(vec!["setuptools".into()]),
            unpinned: None,
            compiler: None,
        };
        meta.pypi_build
            .insert(platform, [("srcpkg".to_string(), record)].into());
    }
    meta.write(&mut lock);
    envlock::lock::write(&lock, &path).unwrap();
}

#[test]
fn the_sdist_build_shape_is_lint_clean_and_parses() {
    let tools = lint_tools();
    for (pip_only, flavor) in [(false, "conda"), (true, "venv")] {
        let p = locked(pip_only);
        add_sdists(&p);
        let base = match flavor {
            "conda" => format!("condaforge/miniforge3:25.3.1-0@{DIGEST}"),
            _ => format!("python:3.11-slim@{DIGEST}"),
        };
        ok(render(&p, &["--flavor", flavor, "--base", &base]));
        let path = p.path("Dockerfile");
        hadolint(&tools, &path);
        let parsed = parse(&tools, &path);
        let runs: Vec<String> = instruction(&parsed, "RUN")
            .iter()
            .map(|(_, _, v)| v.join(" "))
            .collect();
        let all = runs.join("\n");
        let at = |s: &str| all.find(s).unwrap_or_else(|| panic!("{s} not in {all}"));
        assert!(
            at("--target /tmp/envlock-build") < at("--no-build-isolation"),
            "{flavor}"
        );
        assert!(
            at("--no-build-isolation") < at("rm -rf /tmp/envlock-build"),
            "{flavor}"
        );
        assert!(
            at("rm -rf /tmp/envlock-build") < at("pip check"),
            "{flavor}"
        );
        let text = p.read("Dockerfile");
        assert!(text.contains("#   oldsrc 1.0 (linux-64)"), "{text}");
        assert!(p.read("envlock/pip-linux-64.txt").contains("oldsrc @"));
        assert!(!p.read("envlock/pip-linux-64.txt").contains("srcpkg @"));
        assert!(
            p.read("envlock/pip-sdist-linux-64.txt")
                .contains("srcpkg @")
        );
        assert!(
            p.read("envlock/pip-build-linux-64.txt")
                .contains("setuptools @")
        );
    }
}

#[test]
fn a_base_for_an_architecture_the_lock_lacks_is_refused_up_front() {
    let p = Project::new();
    p.write(
        "environment.yml",
        &format!(
            "channels: [{}]\ndependencies:\n  - python=3.11\n",
            fixture_channels().join("pyconda").display()
        ),
    );
    ok(p.run(&["resolve", "-p", "linux-64"]));
    let base = |image: &str| format!("--base={image}@{DIGEST}");
    // Docker Hub's arm64v8/ namespace holds arm64 images only; the lock has linux-64 alone.
    fails(envlock_snapshot!(
        p,
        dockerfile(&p, &[&base("arm64v8/debian:bookworm")]),
        "base_for_an_unlocked_arch"
    ));
    assert!(
        !p.path("Dockerfile").exists(),
        "a refused run writes nothing"
    );
    // The base's own architecture is locked: it renders; so does a base of unknown ones.
    ok(render(&p, &[&base("amd64/debian:bookworm")]));
    ok(render(&p, &[&base("ghcr.io/acme/base:1.0")]));
    // Locked for arm64 too, the arm64 base renders.
    ok(p.run(&["resolve", "-p", "linux-64", "-p", "linux-aarch64"]));
    ok(render(&p, &[&base("arm64v8/debian:bookworm")]));
}

/// `--runtime slim`: a builder stage on the conda base, then the env alone on a pinned slim
/// Debian; lint-clean, parseable, recorded (and kept by a plain re-run), checked by `check`,
/// and refused with a fix where it cannot run.
#[test]
fn the_slim_runtime_copies_the_env_alone_onto_a_pinned_debian() {
    let tools = lint_tools();
    let p = locked(false);
    let base = format!("condaforge/miniforge3:24.3.0-0@{DIGEST}");
    let runtime = format!("debian:bookworm-slim@{DIGEST}");
    let args = [
        "--base",
        &base,
        "--runtime",
        "slim",
        "--runtime-base",
        &runtime,
        "--preset",
        "flask",
        "--run",
        "python -c 'import app' | cat",
    ];
    ok(render(&p, &args));
    let path = p.path("Dockerfile");
    hadolint(&tools, &path);
    let parsed = parse(&tools, &path);
    let from: Vec<&Vec<String>> = instruction(&parsed, "FROM").iter().map(|i| &i.2).collect();
    assert_eq!(
        from,
        [
            &vec![base.clone(), "AS".to_string(), "builder".to_string()],
            &vec![runtime.clone()]
        ],
        "two stages, both pinned"
    );
    let copies: Vec<String> = parsed
        .iter()
        .filter(|(c, _, _)| c == "COPY")
        .map(|(_, _, v)| v.join(" "))
        .collect();
    assert!(
        copies.contains(&"/opt/conda/envs/env /opt/conda/envs/env".to_string())
            && copies.contains(&"/opt/envlock /opt/envlock".to_string()),
        "{copies:?}"
    );
    let text = p.read("Dockerfile");
    let (builder, runtime_stage) = text.split_once(&format!("FROM {runtime}")).unwrap();
    assert!(builder.contains("conda create") && builder.contains("import app"));
    let instructions: String = runtime_stage
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !instructions.contains("conda ") && !instructions.contains("SHELL"),
        "the runtime stage never runs conda: {runtime_stage}"
    );
    assert!(runtime_stage.contains("useradd") && !builder.contains("useradd"));
    assert_eq!(
        instruction(&parsed, "ENTRYPOINT")[0].2,
        [
            "/opt/conda/envs/env/bin/tini",
            "--",
            "/opt/envlock/entrypoint.sh"
        ]
    );
    p.settings()
        .bind(|| insta::assert_snapshot!("golden_conda_slim", rendered_files(&p)));
    assert!(
        !p.read("envlock/entrypoint.sh").contains("conda "),
        "the entrypoint activates the env without conda"
    );
    // Recorded: a plain re-run renders the same, and `check` agrees with it.
    let lock = p.read("conda-lock.yml");
    assert!(
        lock.contains(r#"\"runtime\":\"slim\""#) && lock.contains(&runtime),
        "{lock}"
    );
    ok(render(&p, &[]));
    assert_eq!(
        p.read("Dockerfile"),
        text,
        "a plain re-run keeps the slim runtime"
    );
    ok(p.command(&["check"]).output().unwrap());
    // ... and sees an edit of the runtime stage (exit 1).
    p.write(
        "Dockerfile",
        &text.replace("COPY --from=builder /opt/envlock /opt/envlock\n", ""),
    );
    let out = p.command(&["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    p.write("Dockerfile", &text);
    // What cannot be slim is refused (exit 2), and nothing is written.
    for (name, args) in [
        ("slim_with_conda_run", &["--entrypoint", "conda-run"][..]),
        (
            "slim_runtime_base_without_slim",
            &["--reset", "--runtime-base", &runtime],
        ),
        (
            "slim_runtime_base_from_an_unreachable_registry",
            &["--runtime-base", "127.0.0.1:9/team/base:1.0"],
        ),
    ] {
        fails(envlock_snapshot!(p, dockerfile(&p, args), name));
    }
    let venv = locked(true);
    let venv_base = format!("--base=python:3.11-slim@{DIGEST}");
    fails(envlock_snapshot!(
        venv,
        dockerfile(
            &venv,
            &["--flavor", "venv", &venv_base, "--runtime", "slim"]
        ),
        "slim_with_venv"
    ));
    assert_eq!(p.read("Dockerfile"), text, "a refused run writes nothing");
    // Back to one stage: the record drops the runtime.
    ok(render(&p, &["--runtime", "single"]));
    let lock = p.read("conda-lock.yml");
    assert!(!lock.contains("runtime"), "{lock}");
}
