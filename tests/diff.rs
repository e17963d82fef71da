//! `envlock diff`: what changed between two locks of the synthetic channel, as text and JSON,
//! between files and against git HEAD.

mod common;

use std::process::Command;

use common::{Mode, Project, fails, fixture_channels, ok};

/// A project on the synthetic channel with an old lock (`old.yml`: an earlier cutoff, the mkl
/// blas, tzdata) and a new one (`conda-lock.yml`: newer `timed`, openblas, purepy instead of
/// tzdata).
fn project() -> Project {
    let p = Project::new().serve_channels(&fixture_channels(), Mode::Files);
    p.write(
        "environment.yml",
        "channels: [synthetic]\ndependencies: [timed, untimed, blas, tzdata]\n",
    );
    ok(resolve(&p, &["--exclude-newer", "2024-03-01"]));
    std::fs::rename(p.path("conda-lock.yml"), p.path("old.yml")).unwrap();
    p.write(
        "environment.yml",
        "channels: [synthetic]\ndependencies: [timed, untimed, \"blas=*=*openblas\", purepy]\n",
    );
    ok(resolve(&p, &[]));
    p
}

fn resolve(p: &Project, args: &[&str]) -> std::process::Output {
    p.command(&[
        "resolve",
        "--channel-alias",
        p.channel_alias(),
        "-p",
        "linux-64",
    ])
    .args(args)
    .output()
    .unwrap()
}

fn git(p: &Project, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(p.dir.path())
        .args([
            "-c",
            "user.name=envlock",
            "-c",
            "user.email=envlock@example.com",
        ])
        .args(args)
        .env("GIT_CEILING_DIRECTORIES", p.dir.path().parent().unwrap())
        .output()
        .unwrap();
    assert!(status.status.success(), "git {args:?}: {status:?}");
}

#[test]
fn diff_between_files_as_text_and_json() {
    let p = project();
    ok(envlock_snapshot!(
        p,
        p.command(&["diff", "old.yml", "conda-lock.yml"]),
        "files_text"
    ));
    let out = envlock_snapshot!(
        p,
        p.command(&["diff", "old.yml", "conda-lock.yml", "--format", "json"]),
        "files_json"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    for kind in ["added", "removed", "upgraded", "rebuilt"] {
        assert!(kinds.contains(&kind), "no {kind} change: {kinds:?}");
    }
    // And the other way round: downgrades.
    ok(envlock_snapshot!(
        p,
        p.command(&["diff", "conda-lock.yml", "old.yml"]),
        "files_reversed_text"
    ));
    // No change at all.
    ok(envlock_snapshot!(
        p,
        p.command(&["diff", "old.yml", "old.yml"]),
        "files_identical_text"
    ));
    ok(envlock_snapshot!(
        p,
        p.command(&["diff", "old.yml", "old.yml", "--format", "json"]),
        "files_identical_json"
    ));
}

#[test]
fn diff_against_git_head() {
    let p = project();
    std::fs::rename(p.path("conda-lock.yml"), p.path("new.yml")).unwrap();
    std::fs::copy(p.path("old.yml"), p.path("conda-lock.yml")).unwrap();
    git(&p, &["init", "-q"]);
    git(&p, &["add", "conda-lock.yml"]);
    git(&p, &["commit", "-q", "-m", "lock"]);
    std::fs::copy(p.path("new.yml"), p.path("conda-lock.yml")).unwrap();
    ok(envlock_snapshot!(p, p.command(&["diff"]), "git_head_text"));
}

#[test]
fn diff_errors() {
    let p = project();
    let mut outside_git = p.command(&["diff"]);
    outside_git.env("GIT_CEILING_DIRECTORIES", p.dir.path().parent().unwrap());
    // git's own words vary between versions; only the part envlock writes is compared.
    p.filter(r"at git HEAD: .*", "at git HEAD: [GIT ERROR]");
    fails(envlock_snapshot!(p, outside_git, "not_in_git"));
    fails(envlock_snapshot!(
        p,
        p.command(&["diff", "old.yml", "nosuch.yml"]),
        "missing_file"
    ));
    p.write("bad.yml", "version: 1\npackage: [\n");
    fails(envlock_snapshot!(
        p,
        p.command(&["diff", "old.yml", "bad.yml"]),
        "malformed_file"
    ));
}
