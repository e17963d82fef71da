//! `envlock check`, `resolve --check/--update/--update-all` and `dockerfile --locked`, as a team
//! uses them: each scenario edits one thing and expects the right finding and exit code.
//!
//! The drift cases are folders, `tests/data/drift/<case>/`: the files there replace the
//! project's, `case.json` says what else to edit and how to run `check`, and each case has one
//! snapshot, `check__drift_<case>.snap`.

mod common;

use std::{path::Path, process::Command};

use common::{Mode, Project, ok};

const PLATFORMS: [&str; 2] = ["linux-64", "linux-aarch64"];

const ENVIRONMENT: &str = "channels:\n  - pyconda\ndependencies:\n  - python=3.11\n  - pip\n  - tini\n  - alpha\n  - beta\n  - pip:\n    - webapp\n";

/// A project on a private copy of the `pyconda` channel (so tests can publish new versions)
/// and a local package index, locked for linux-64 and linux-aarch64 with a rendered Dockerfile.
fn project() -> Project {
    let p = Project::new()
        .serve_channel_copy("pyconda", &["linux-64", "linux-aarch64", "noarch"])
        .serve_index(Mode::Files, |index| {
            index
                .wheel("webapp", "1.0")
                .requires(&["helper>=1", "fastdep; extra == \"fast\""])
                .extras(&["fast"]);
            index.wheel("helper", "1.0");
            index.wheel("fastdep", "1.0");
        });
    // The channel: pyconda plus two packages, `alpha` and `beta` (which needs `gamma`).
    p.publish(
        "pyconda",
        &[
            ("alpha", "1.0", &[]),
            ("beta", "1.0", &["gamma"]),
            ("gamma", "1.0", &[]),
        ],
    );
    p.write("environment.yml", ENVIRONMENT);
    ok(run(&p, "resolve", &[]).output().unwrap());
    ok(dockerfile(&p, &[]).output().unwrap());
    p
}

/// `envlock COMMAND` with the project's channel alias, index and platforms.
fn run(p: &Project, command: &str, args: &[&str]) -> Command {
    let mut cmd = p.cmd();
    cmd.arg(command)
        .args(["--channel-alias", p.channel_alias()])
        .args(["--index-url", &p.index_url()]);
    for platform in PLATFORMS {
        cmd.args(["-p", platform]);
    }
    cmd.args(args);
    cmd
}

/// `envlock dockerfile ARGS`, with the alias and index from the environment (as `--locked`
/// needs them to re-read the inputs).
fn dockerfile(p: &Project, args: &[&str]) -> Command {
    let mut cmd = p.cmd();
    cmd.arg("dockerfile")
        .args(args)
        .env("ENVLOCK_CHANNEL_ALIAS", p.channel_alias())
        .env("ENVLOCK_INDEX_URL", p.index_url());
    cmd
}

fn code(cmd: &mut Command) -> Option<i32> {
    cmd.output().unwrap().status.code()
}

/// One `tests/data/drift/<case>/case.json`.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Case {
    /// What the case is about (documentation only).
    about: String,
    /// `[file, from, to]`: the first `from` in `file` becomes `to`.
    replace: Vec<(String, String, String)>,
    /// `[file, text]`: `text` is appended to `file`.
    append: Vec<(String, String)>,
    /// Files to delete.
    remove: Vec<String>,
    /// Packages whose first entry is cut out of conda-lock.yml.
    remove_locked: Vec<String>,
    /// Platforms for `check` instead of linux-64 and linux-aarch64.
    platforms: Option<Vec<String>>,
    /// `--channel-alias` instead of the channel server.
    channel_alias: Option<String>,
    /// `--index-url` instead of the index server.
    index_url: Option<String>,
    /// More arguments for `check`.
    args: Vec<String>,
    /// The exit code `check` must end with.
    exit_code: Option<i32>,
}

fn apply(p: &Project, case_dir: &Path) -> Case {
    let mut case = Case::default();
    for entry in std::fs::read_dir(case_dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        if name == "case.json" {
            case = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
        } else {
            p.write(&name, &text);
        }
    }
    for (file, from, to) in &case.replace {
        let text = p.read(file);
        assert!(text.contains(from.as_str()), "{file} has no {from:?}");
        p.write(file, &text.replacen(from.as_str(), to, 1));
    }
    for (file, more) in &case.append {
        p.write(file, &format!("{}{more}", p.read(file)));
    }
    for file in &case.remove {
        p.remove(file);
    }
    for name in &case.remove_locked {
        let text = p.read("conda-lock.yml");
        let at = text
            .find(&format!("\n  name: {name}\n"))
            .unwrap_or_else(|| panic!("{name} is not locked"));
        let start = text[..at].rfind("\n- ").unwrap() + 1;
        let end = text[at + 1..]
            .find("\n- ")
            .map_or(text.len(), |i| at + 1 + i + 1);
        p.write(
            "conda-lock.yml",
            &format!("{}{}", &text[..start], &text[end..]),
        );
    }
    case
}

#[test]
fn drift_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/drift");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "{} drift cases", cases.len());
    for dir in cases {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let p = project();
        let case = apply(&p, &dir);
        assert!(!case.about.is_empty(), "{name}: case.json needs an `about`");
        let mut cmd = p.cmd();
        cmd.arg("check")
            .args([
                "--channel-alias",
                case.channel_alias.as_deref().unwrap_or(p.channel_alias()),
            ])
            .args([
                "--index-url",
                &case.index_url.clone().unwrap_or_else(|| p.index_url()),
            ]);
        let platforms = case
            .platforms
            .clone()
            .unwrap_or_else(|| PLATFORMS.map(String::from).to_vec());
        for platform in &platforms {
            cmd.args(["-p", platform]);
        }
        cmd.args(&case.args);
        let out = envlock_snapshot!(p, cmd, format!("drift_{name}"));
        assert_eq!(
            out.status.code(),
            Some(case.exit_code.unwrap_or(1)),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_fresh_lock_passes() {
    let p = project();
    envlock_snapshot!(p, run(&p, "check", &[]), "fresh_text");
    let out = envlock_snapshot!(p, run(&p, "check", &["--format", "json"]), "fresh_json");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], true);
    envlock_snapshot!(p, run(&p, "check", &["--format", "github"]), "fresh_github");
}

#[test]
fn an_edited_input_names_the_line_and_the_fix() {
    let p = project();
    p.write(
        "environment.yml",
        &ENVIRONMENT.replace("  - alpha\n", "  - alpha>=2\n"),
    );
    envlock_snapshot!(p, run(&p, "check", &[]), "edited_conda_spec");
    // pip requirements too, with the line of the `pip:` entry.
    p.write(
        "environment.yml",
        &ENVIRONMENT.replace("    - webapp\n", "    - webapp>=2\n"),
    );
    envlock_snapshot!(p, run(&p, "check", &[]), "edited_pip_requirement");
    let out = envlock_snapshot!(
        p,
        run(&p, "check", &["--format", "github"]),
        "edited_pip_requirement_github"
    );
    assert_eq!(out.status.code(), Some(1));
    let out = envlock_snapshot!(
        p,
        run(&p, "check", &["--format", "json"]),
        "edited_pip_requirement_json"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["findings"][0]["line"], 10);
}

#[test]
fn a_removed_spec_leaves_unneeded_packages_until_resolved_and_then_prunes() {
    let p = project();
    let alpha = p.version("alpha", "linux-64");
    p.write("environment.yml", &ENVIRONMENT.replace("  - beta\n", ""));
    let out = envlock_snapshot!(p, run(&p, "check", &[]), "unneeded_until_resolved");
    assert_eq!(out.status.code(), Some(1));
    ok(run(&p, "resolve", &[]).output().unwrap());
    assert_eq!(
        (
            p.version("beta", "linux-64"),
            p.version("gamma", "linux-64")
        ),
        ("absent".into(), "absent".into())
    );
    assert_eq!(p.version("alpha", "linux-64"), alpha);
}

#[test]
fn edited_rendered_files_are_caught_and_re_rendering_fixes_them() {
    let p = project();
    p.write(
        "Dockerfile",
        &format!("{}RUN echo sneaky\n", p.read("Dockerfile")),
    );
    assert_eq!(code(&mut run(&p, "check", &[])), Some(1));
    ok(dockerfile(&p, &[]).output().unwrap());
    ok(run(&p, "check", &[]).output().unwrap());
}

#[test]
fn a_recorded_base_for_another_python_no_longer_fits() {
    // A pip-only project rendered with the venv flavor on a python 3.10 image, while the lock
    // has python 3.11: `envlock dockerfile` would re-pin the base, so check says so.
    let p = project();
    p.remove("environment.yml");
    p.write("requirements.txt", "webapp\n");
    let args = ["requirements.txt", "-c", "pyconda", "--python", "3.11"];
    ok(run(&p, "resolve", &args).output().unwrap());
    let base =
        "python:3.10-slim@sha256:0000000000000000000000000000000000000000000000000000000000000002";
    ok(dockerfile(&p, &["--flavor", "venv", "--base", base])
        .output()
        .unwrap());
    let out = envlock_snapshot!(p, run(&p, "check", &args), "recorded_base_no_longer_fits");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn malformed_or_missing_locks_are_errors_not_drift() {
    let p = project();
    p.write("conda-lock.yml", "version: 1\nmetadata: [\n");
    envlock_snapshot!(p, run(&p, "check", &[]), "malformed_lock");
    p.write("conda-lock.yml", "version: 1\nmetadata: {}\npackage: []\n");
    envlock_snapshot!(p, run(&p, "check", &[]), "wrong_shape_lock");
    p.remove("conda-lock.yml");
    let out = envlock_snapshot!(p, run(&p, "check", &[]), "missing_lock");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn updates_move_only_what_was_asked() {
    let p = project();
    p.publish(
        "pyconda",
        &[
            ("alpha", "2.0", &[]),
            ("beta", "2.0", &["gamma"]),
            ("gamma", "2.0", &[]),
        ],
    );
    let before = p.read("conda-lock.yml");
    let version = |name: &str| p.version(name, "linux-64");

    // Re-resolving unchanged inputs keeps every pin: the file does not change at all.
    ok(run(&p, "resolve", &[]).output().unwrap());
    assert_eq!(p.read("conda-lock.yml"), before);
    // --check solves nothing when the lock is up to date.
    let out = envlock_snapshot!(
        p,
        run(&p, "resolve", &["--check"]),
        "resolve_check_up_to_date"
    );
    assert!(out.status.success());

    // Adding a dependency adds it and only what it needs; --check says the lock is stale.
    p.write(
        "environment.yml",
        &ENVIRONMENT.replace("  - beta\n", "  - beta\n  - zstd\n"),
    );
    envlock_snapshot!(p, run(&p, "resolve", &["--check"]), "resolve_check_stale");
    ok(run(&p, "resolve", &[]).output().unwrap());
    assert_eq!(
        (version("alpha"), version("beta"), version("zstd")),
        ("1.0".into(), "1.0".into(), "1.5.5".into())
    );

    // --update beta moves beta and what it forces, nothing else.
    ok(run(&p, "resolve", &["--update", "beta"]).output().unwrap());
    assert_eq!(
        (version("alpha"), version("beta")),
        ("1.0".into(), "2.0".into())
    );
    ok(run(&p, "resolve", &["--update-all"]).output().unwrap());
    assert_eq!(
        (version("alpha"), version("beta"), version("gamma")),
        ("2.0".into(), "2.0".into(), "2.0".into())
    );
    envlock_snapshot!(
        p,
        run(&p, "resolve", &["--update", "nosuchpkg"]),
        "update_unknown_package"
    );
}

#[test]
fn dockerfile_locked_refuses_a_stale_lock() {
    let p = project();
    ok(dockerfile(&p, &["--locked"]).output().unwrap());
    p.write(
        "environment.yml",
        &ENVIRONMENT.replace("  - alpha\n", "  - alpha>=2\n"),
    );
    let before = p.read("Dockerfile");
    let out = envlock_snapshot!(
        p,
        dockerfile(&p, &["--locked", "--preset", "flask"]),
        "dockerfile_locked_refuses"
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(p.read("Dockerfile"), before);
}

#[test]
fn fixing_extras_drift_by_resolving_locks_the_extra() {
    let p = project();
    p.write(
        "environment.yml",
        &ENVIRONMENT.replace("    - webapp\n", "    - webapp[fast]\n"),
    );
    assert_eq!(code(&mut run(&p, "check", &[])), Some(1));
    ok(run(&p, "resolve", &[]).output().unwrap());
    assert_eq!(p.version("fastdep", "linux-64"), "1.0");
    ok(dockerfile(&p, &[]).output().unwrap());
    ok(run(&p, "check", &[]).output().unwrap());
}

#[test]
fn findings_never_show_credentials() {
    let p = project();
    let url = p
        .index_server()
        .url
        .replace("http://", "http://user:s3cret@");
    p.write(
        "environment.yml",
        &ENVIRONMENT.replace(
            "    - webapp\n",
            &format!("    - webapp @ {url}/files/webapp-9.0-py3-none-any.whl\n"),
        ),
    );
    let out = envlock_snapshot!(
        p,
        run(&p, "check", &["--format", "json"]),
        "credentials_redacted_json"
    );
    assert_eq!(out.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("s3cret"), "{all}");
}

/// The custom metadata of the project's lock.
fn recorded(p: &Project) -> std::collections::BTreeMap<String, String> {
    p.lock().metadata.custom_metadata.unwrap_or_default()
}

#[test]
fn the_options_a_lock_records_are_the_defaults() {
    let p = project();
    // Locked for one platform, with a cutoff and a virtual package: flags a CI config would not
    // repeat.
    let flags = [
        "-p",
        "linux-64",
        "--exclude-newer",
        "2030-01-01",
        "--virtual-package",
        "__cuda=12.4",
    ];
    let mut resolve = p.cmd();
    resolve
        .arg("resolve")
        .args(["--channel-alias", p.channel_alias()])
        .args(["--index-url", &p.index_url()])
        .args(flags);
    ok(resolve.output().unwrap());
    ok(dockerfile(&p, &[]).output().unwrap());

    // `check` with no flags at all passes: platforms, alias, index, cutoff and virtual packages
    // come from the lock.
    let err = ok(p.run(&["check"]));
    assert!(err.starts_with("Checked conda-lock.yml agrees"), "{err}");
    let out = p.run(&["resolve", "--check"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is up to date"),
        "{out:?}"
    );
    ok(dockerfile(&p, &["--locked"]).output().unwrap());

    // A flag that differs from the record is drift, for `check` given it.
    let out = envlock_snapshot!(
        p,
        p.command(&["check", "--exclude-newer", "2031-01-01"]),
        "recorded_cutoff_differs"
    );
    assert_eq!(out.status.code(), Some(1));
    let out = p.run(&["check", "-p", "linux-64", "-p", "linux-aarch64"]);
    assert_eq!(out.status.code(), Some(1));

    // A re-run of `resolve` without flags solves the same question, from the recorded alias and
    // index: the pins hold although the channel has moved on, and the lock is byte-identical.
    p.publish("pyconda", &[("alpha", "2.0", &[])]);
    let before = p.read("conda-lock.yml");
    let out = envlock_snapshot!(p, p.command(&["resolve"]), "resolve_with_recorded_options");
    assert!(out.status.success());
    assert_eq!(p.read("conda-lock.yml"), before);

    // A differing flag re-solves with it (the options changed: the pins go) and records it.
    ok(p.run(&["resolve", "--exclude-newer", "2031-01-01"]));
    assert_eq!(p.version("alpha", "linux-64"), "2.0");
    assert_eq!(
        recorded(&p)["envlock.exclude_newer"],
        "2031-01-01T23:59:59.999999999Z"
    );
    assert!(recorded(&p)["envlock.virtual_packages.linux-64"].contains("__cuda=12.4"));
    ok(dockerfile(&p, &[]).output().unwrap());
    ok(p.run(&["check"]));

    // `--reset` goes back to the defaults for what is not given: both platforms, no cutoff, no
    // __cuda.
    ok(run(&p, "resolve", &["--reset"]).output().unwrap());
    let meta = recorded(&p);
    assert!(!meta.contains_key("envlock.exclude_newer"), "{meta:?}");
    assert_eq!(
        meta["envlock.virtual_packages.linux-64"],
        "__archspec=1=x86_64,__glibc=2.28=0,__linux=4.18=0,__unix=0=0"
    );
    assert_eq!(p.lock().metadata.platforms, PLATFORMS);
}

#[test]
fn a_mirror_is_not_recorded_and_the_lock_keeps_the_canonical_channel() {
    let p = project();
    // The channel is known as https://conda.example.invalid/pyconda, fetched from the test server.
    let alias = "https://conda.example.invalid";
    let mirror = format!("{alias}/pyconda={}/pyconda", p.channel_alias());
    let index = p.index_url();
    ok(
        p.command(&["resolve", "--channel-alias", alias, "--mirror", &mirror])
            .args(["--index-url", &index])
            .output()
            .unwrap(),
    );
    let lock = p.read("conda-lock.yml");
    assert!(
        lock.contains("url: https://conda.example.invalid/pyconda/noarch/"),
        "{lock}"
    );
    assert!(!lock.contains(p.channel_alias()), "{lock}");
    ok(dockerfile(&p, &[]).output().unwrap());
    // `check` fetches nothing, so it needs no mirror; the alias is the recorded one.
    let err = ok(p.run(&["check"]));
    assert!(err.starts_with("Checked conda-lock.yml agrees"), "{err}");
    // Solving fetches, so it needs the mirror again (a mirror is where this machine fetches
    // from, not part of the lock); the rest is recorded.
    ok(p.run(&["resolve", "--mirror", &mirror]));
    assert_eq!(p.read("conda-lock.yml"), lock);
}

#[test]
fn a_conda_only_lock_resolved_with_an_index_strategy_passes_check() {
    let p = Project::new().serve_channel_copy("pyconda", &["linux-64", "noarch"]);
    p.write(
        "environment.yml",
        "channels:\n  - pyconda\ndependencies:\n  - python=3.11\n  - tini\n",
    );
    let resolve = |args: &[&str]| {
        let mut cmd = p.cmd();
        cmd.arg("resolve")
            .args(["--channel-alias", p.channel_alias(), "-p", "linux-64"])
            .args(args);
        cmd.output().unwrap()
    };
    ok(resolve(&["--index-strategy", "unsafe-best-match"]));
    // The strategy is not recorded (there is nothing for it to decide)...
    assert!(!p.read("conda-lock.yml").contains("index_strategy"));
    // ...so `check` without it, and a re-resolve without it, see the same question.
    let out = p.run(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let before = p.read("conda-lock.yml");
    p.publish("pyconda", &[("tini", "99.0", &[])]);
    ok(resolve(&[]));
    assert_eq!(p.read("conda-lock.yml"), before);
    // The same through the environment variable.
    ok(p.cmd()
        .arg("resolve")
        .args(["--channel-alias", p.channel_alias(), "-p", "linux-64"])
        .env("ENVLOCK_INDEX_STRATEGY", "unsafe-best-match")
        .output()
        .unwrap());
    let out = p.run(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
}
