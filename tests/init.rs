//! The image's init: `resolve` adds tini to every Linux platform's solve when the inputs do not
//! name it, records that in the lock (`envlock.init`), says so, and `check`, `diff` and
//! `dockerfile` understand the record; `--no-init` opts out and is recorded like the other
//! options.

mod common;

use common::{Project, drifted, fails, fixture_channels, ok};
use envlock::lock::{EnvlockMeta, meta::InitChoice};

const PLATFORMS: [&str; 6] = ["-p", "linux-64", "-p", "linux-aarch64", "-p", "osx-arm64"];

/// A project on the pyconda fixture channel (which has tini for both Linux platforms) with
/// `deps`.
fn project(deps: &str) -> Project {
    let p = Project::new();
    write_env(&p, deps);
    p
}

fn write_env(p: &Project, deps: &str) {
    p.write(
        "environment.yml",
        &format!(
            "channels: [{}]\ndependencies: [{deps}]\n",
            fixture_channels().join("pyconda").display()
        ),
    );
}

/// The platforms `name` is locked for.
fn locked_for(p: &Project, name: &str) -> Vec<String> {
    let mut platforms: Vec<String> = p
        .lock()
        .package
        .iter()
        .filter(|p| p.name == name)
        .map(|p| p.platform.clone())
        .collect();
    platforms.sort();
    platforms
}

#[test]
fn resolve_adds_tini_says_so_and_check_and_diff_understand_it() {
    let p = project("python=3.11");
    let err = ok(p.run(&[&["resolve"][..], &PLATFORMS].concat()));
    assert!(
        err.contains(
            "note: added tini for the image's init to linux-64, linux-aarch64 \
             (the inputs do not name it; `--no-init` opts out)\n"
        ),
        "{err}"
    );
    // Linux only: an image is never built for osx-arm64.
    assert_eq!(locked_for(&p, "tini"), ["linux-64", "linux-aarch64"]);
    let init = EnvlockMeta::read(&p.lock()).unwrap().init.unwrap();
    assert_eq!(init.init, InitChoice::Tini);
    assert_eq!(init.added, ["linux-64", "linux-aarch64"]);
    // The added tini is not "unneeded".
    ok(p.run(&["check"]));

    // From here on, Linux only (the channel has no tini for osx-arm64, which an input naming
    // tini would need).
    ok(p.run(&["resolve", "-p", "linux-64", "-p", "linux-aarch64"]));
    // An input that names tini itself later is fine; a re-resolve then adds nothing and keeps
    // the pin.
    write_env(&p, "python=3.11, tini");
    ok(p.run(&["check"]));
    let err = ok(p.run(&["resolve"]));
    assert!(!err.contains("added tini"), "{err}");
    assert_eq!(EnvlockMeta::read(&p.lock()).unwrap().init, None);
    assert_eq!(locked_for(&p, "tini"), ["linux-64", "linux-aarch64"]);

    // Once no input names it, the lock's tini is one nothing asked for, until a resolve adds
    // it for the image's init again.
    write_env(&p, "python=3.11");
    let err = drifted(&p.run(&["check"]));
    assert!(
        err.contains("tini 0.19.0 is locked for linux-64 but nothing in the inputs needs it"),
        "{err}"
    );
    ok(p.run(&["resolve"]));
    ok(p.run(&["check"]));

    // --no-init: no tini, recorded, and the default of the next resolve and check.
    std::fs::copy(p.path("conda-lock.yml"), p.path("with-init.yml")).unwrap();
    let err = ok(p.run(&["resolve", "--no-init"]));
    assert!(
        err.starts_with(
            "note: no tini added for the image's init (--no-init): its entrypoint script runs as PID 1\n"
        ),
        "{err}"
    );
    assert!(locked_for(&p, "tini").is_empty());
    let init = EnvlockMeta::read(&p.lock()).unwrap().init.unwrap();
    assert_eq!(init.init, InitChoice::None);
    ok(p.run(&["check"]));
    let err = ok(p.run(&["resolve"]));
    assert!(
        err.starts_with("note: using the options conda-lock.yml records: --no-init (`--reset` uses the defaults)\n"),
        "{err}"
    );
    assert!(locked_for(&p, "tini").is_empty());

    // diff says why tini comes and goes.
    let out = p.run(&["diff", "with-init.yml", "conda-lock.yml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  - tini 0.19.0 (h0_0) [conda; added by envlock for the image's init]\n"),
        "{text}"
    );
    let out = p.run(&["diff", "conda-lock.yml", "with-init.yml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  + tini 0.19.0 (h0_0) [conda; added by envlock for the image's init]\n"),
        "{text}"
    );

    // The record is untrusted input: a platform the lock does not have is an error naming it.
    let lock = p.read("with-init.yml");
    let edited = lock.replace(
        r#"\"added\":[\"linux-64\","#,
        r#"\"added\":[\"linux-s390x\","#,
    );
    assert_ne!(lock, edited);
    std::fs::write(p.path("conda-lock.yml"), edited).unwrap();
    let err = fails(p.run(&["check"]));
    assert!(
        err.contains(
            "`envlock.init` is not valid: `linux-s390x` is not a Linux platform of the lock"
        ),
        "{err}"
    );
}

#[test]
fn check_compares_the_init_choice() {
    let p = project("python=3.11");
    ok(p.run(&["resolve", "-p", "linux-64"]));
    let err = drifted(&p.run(&["check", "--no-init"]));
    assert!(
        err.contains("drift: the lock was made without --no-init, but --no-init is given now; run `envlock resolve`"),
        "{err}"
    );
    ok(p.run(&["resolve", "--no-init"]));
    ok(p.run(&["check"]));
    ok(p.run(&["check", "--no-init"]));
    // `--reset` goes back to the default: tini is added again.
    let err = ok(p.run(&["resolve", "--reset"]));
    assert!(
        err.contains("note: added tini for the image's init to linux-64"),
        "{err}"
    );
    ok(p.run(&["check"]));
}

#[test]
fn the_added_tini_is_the_default_entrypoint_and_check_renders_the_same() {
    let p = project("python=3.11");
    ok(p.run(&["resolve"]));
    ok(p.run(&["dockerfile"]));
    let dockerfile = p.read("Dockerfile");
    assert!(
        dockerfile.contains(
            "ENTRYPOINT [\"/opt/conda/envs/env/bin/tini\", \"--\", \"/opt/envlock/entrypoint.sh\"]"
        ),
        "{dockerfile}"
    );
    ok(p.run(&["check"]));
    // Without an init, the entrypoint script alone, and a comment says what that costs.
    ok(p.run(&["resolve", "--no-init"]));
    ok(p.run(&["dockerfile"]));
    let dockerfile = p.read("Dockerfile");
    assert!(
        dockerfile.contains(
            "reaps no zombies and gets no default signal handlers, so the app must handle SIGTERM.\n\
             ENTRYPOINT [\"/opt/envlock/entrypoint.sh\"]\n"
        ),
        "{dockerfile}"
    );
    ok(p.run(&["check"]));
}

#[test]
fn a_tini_that_cannot_be_installed_is_left_out_with_a_warning() {
    let p = Project::new().serve_channel_copy("pyconda", &["linux-64", "noarch"]);
    // The channel's tini needs a package no channel has: the solve with it fails, the solve
    // without it does not.
    let repodata = p.path("channels/pyconda/linux-64/repodata.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&repodata).unwrap()).unwrap();
    json["packages.conda"]["tini-0.19.0-h0_0.conda"]["depends"] =
        serde_json::json!(["no-such-library"]);
    std::fs::write(&repodata, json.to_string()).unwrap();
    p.write(
        "environment.yml",
        "channels:\n  - pyconda\ndependencies:\n  - python=3.11\n",
    );
    let err = ok(p.run(&[
        "resolve",
        "--channel-alias",
        p.channel_alias(),
        "-p",
        "linux-64",
    ]));
    assert!(
        err.contains(
            "warning: tini is not added for the image's init on linux-64 (it cannot be installed \
             with the other packages): add a channel that has it, or opt out with \
             `envlock resolve --no-init`"
        ),
        "{err}"
    );
    assert!(locked_for(&p, "tini").is_empty());
    let init = EnvlockMeta::read(&p.lock()).unwrap().init.unwrap();
    assert_eq!(init.unavailable, ["linux-64"]);
    ok(p.run(&["check"]));
    let err = fails(p.run(&["dockerfile"]));
    assert!(
        err.contains("error: tini is not locked for linux-64 (the resolve that made the lock could not add it)"),
        "{err}"
    );
    assert!(err.contains("`envlock resolve --no-init`"), "{err}");
}
