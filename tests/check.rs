//! `envlock check`, `resolve --check/--update/--update-all` and `dockerfile --locked`, as a team
//! uses them: each scenario edits one thing and expects the right finding and exit code.

mod common;

use std::{path::PathBuf, process::Output};

use common::{Mode, Server, envlock, fails, fixture_channels, ok, pypi_index::Index};

/// A project on a private copy of the `pyconda` channel (so tests can publish new versions)
/// and a local package index, locked for linux-64 and linux-aarch64 with a rendered Dockerfile.
struct Project {
    dir: tempfile::TempDir,
    channel_server: Server,
    index: Server,
}

const PLATFORMS: [&str; 4] = ["-p", "linux-64", "-p", "linux-aarch64"];

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        // The channel: pyconda plus two packages, `alpha` and `beta` (which needs `gamma`).
        let channel = dir.path().join("channels/pyconda");
        for subdir in ["linux-64", "linux-aarch64", "noarch"] {
            let from = fixture_channels()
                .join("pyconda")
                .join(subdir)
                .join("repodata.json");
            std::fs::create_dir_all(channel.join(subdir)).unwrap();
            std::fs::copy(from, channel.join(subdir).join("repodata.json")).unwrap();
        }
        let p = Project {
            channel_server: Server::start(&dir.path().join("channels"), Mode::Files),
            index: {
                let mut index = Index::new(&dir.path().join("index"));
                index
                    .wheel("webapp", "1.0")
                    .requires(&["helper>=1", "fastdep; extra == \"fast\""])
                    .extras(&["fast"]);
                index.wheel("helper", "1.0");
                index.wheel("fastdep", "1.0");
                index.write();
                Server::start(&dir.path().join("index"), Mode::Files)
            },
            dir,
        };
        p.publish(&[
            ("alpha", "1.0", &[]),
            ("beta", "1.0", &["gamma"]),
            ("gamma", "1.0", &[]),
        ]);
        p.write(
            "environment.yml",
            "channels:\n  - pyconda\ndependencies:\n  - python=3.11\n  - pip\n  - tini\n  - alpha\n  - beta\n  - pip:\n    - webapp\n",
        );
        ok(p.run("resolve", &[]));
        ok(p.dockerfile(&[]));
        p
    }

    /// Adds noarch records to the served channel, as a channel publishing new builds would.
    fn publish(&self, packages: &[(&str, &str, &[&str])]) {
        let path = self
            .dir
            .path()
            .join("channels/pyconda/noarch/repodata.json");
        let mut repodata: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (name, version, depends) in packages {
            let file = format!("{name}-{version}-0.conda");
            repodata["packages.conda"][&file] = serde_json::json!({
                "name": name, "version": version, "build": "0", "build_number": 0,
                "depends": depends, "subdir": "noarch", "noarch": "generic",
                "md5": format!("{:032x}", file.len()), "sha256": format!("{:064x}", file.len() * 7 + version.len()),
                "timestamp": 1704067200000u64,
            });
        }
        std::fs::write(&path, repodata.to_string()).unwrap();
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `envlock COMMAND` with the project's channel alias, index and platforms.
    fn run(&self, command: &str, args: &[&str]) -> Output {
        envlock(&self.path("cache"))
            .current_dir(self.dir.path())
            .arg(command)
            .args(["--channel-alias", &self.channel_server.url])
            .args(["--index-url", &format!("{}/simple/", self.index.url)])
            .args(PLATFORMS)
            .args(args)
            .output()
            .unwrap()
    }

    fn dockerfile(&self, args: &[&str]) -> Output {
        envlock(&self.path("cache"))
            .current_dir(self.dir.path())
            .arg("dockerfile")
            .args(args)
            .env("ENVLOCK_CHANNEL_ALIAS", &self.channel_server.url)
            .env("ENVLOCK_INDEX_URL", format!("{}/simple/", self.index.url))
            .output()
            .unwrap()
    }

    /// `envlock check`, expecting drift (exit 1); returns stderr.
    fn drift(&self, args: &[&str]) -> String {
        let out = self.run("check", args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(1),
            "expected drift (exit 1):\n{err}"
        );
        err
    }

    fn version(&self, name: &str) -> String {
        let lock = envlock::lock::read(&self.path("conda-lock.yml")).unwrap();
        lock.package
            .iter()
            .find(|p| p.name == name && p.platform == "linux-64")
            .map(|p| p.version.clone())
            .unwrap_or_else(|| "absent".into())
    }
}

#[test]
fn a_fresh_lock_passes() {
    let p = Project::new();
    let err = ok(p.run("check", &[]));
    assert!(
        err.contains("conda-lock.yml agrees with the inputs and the rendered files"),
        "{err}"
    );
    let out = p.run("check", &["--format", "json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], true);
}

#[test]
fn an_edited_input_names_the_line_and_the_fix() {
    let p = Project::new();
    let text = p
        .read("environment.yml")
        .replace("  - alpha\n", "  - alpha>=2\n");
    p.write("environment.yml", &text);
    let err = p.drift(&[]);
    assert!(
        err.contains("`alpha >=2` in environment.yml:7:5 is not satisfied by alpha 1.0 locked for linux-64; run `envlock resolve`"),
        "{err}"
    );
    // pip requirements too, with the line of the `pip:` entry.
    let text = p
        .read("environment.yml")
        .replace("alpha>=2", "alpha")
        .replace("    - webapp\n", "    - webapp>=2\n");
    p.write("environment.yml", &text);
    let err = p.drift(&[]);
    assert!(
        err.contains(
            "`webapp>=2` in environment.yml:10:7 is not satisfied by webapp 1.0 locked for linux-64"
        ),
        "{err}"
    );

    let out = p.run("check", &["--format", "github"]);
    assert_eq!(out.status.code(), Some(1));
    let annotations = String::from_utf8_lossy(&out.stdout);
    assert!(
        annotations
            .contains("::error file=environment.yml,line=10,title=envlock check::`webapp>=2`"),
        "{annotations}"
    );
}

#[test]
fn a_removed_spec_leaves_unneeded_packages_until_resolved_and_then_prunes() {
    let p = Project::new();
    let alpha = p.version("alpha");
    p.write(
        "environment.yml",
        &p.read("environment.yml").replace("  - beta\n", ""),
    );
    let err = p.drift(&[]);
    assert!(
        err.contains("beta 1.0 is locked for linux-64 but nothing in the inputs needs it"),
        "{err}"
    );
    assert!(
        err.contains("gamma 1.0 is locked for linux-64 but nothing in the inputs needs it"),
        "{err}"
    );
    ok(p.run("resolve", &[]));
    assert_eq!(
        (p.version("beta"), p.version("gamma")),
        ("absent".into(), "absent".into())
    );
    assert_eq!(p.version("alpha"), alpha);
}

#[test]
fn hand_edited_locks_are_caught() {
    for (what, edit) in [
        ("a version", ("version: \"1.0\"\n", "version: \"1.1\"\n")),
        ("a hash", ("sha256: 9288b8958", "sha256: 8288b8958")),
    ] {
        let p = Project::new();
        let text = p.read("conda-lock.yml");
        p.write("conda-lock.yml", &text.replacen(edit.0, edit.1, 1));
        let err = p.drift(&[]);
        assert!(
            err.contains("were changed after envlock wrote them"),
            "{what}: {err}"
        );
    }
    // A removed package: the checksum and the broken dependency both say so.
    let p = Project::new();
    let text = p.read("conda-lock.yml");
    let start = text
        .find("- build: \"0\"\n  category: main\n  dependencies: {}\n  hash:")
        .unwrap();
    let gamma = text[start..]
        .find("name: gamma")
        .map(|i| i + start)
        .unwrap();
    let entry_start = text[..gamma].rfind("\n- ").unwrap() + 1;
    let entry_end = text[gamma..]
        .find("\n- ")
        .map_or(text.len(), |i| gamma + i + 1);
    p.write(
        "conda-lock.yml",
        &format!("{}{}", &text[..entry_start], &text[entry_end..]),
    );
    let err = p.drift(&[]);
    assert!(
        err.contains("depends on `gamma`, which nothing locked for"),
        "{err}"
    );
}

#[test]
fn edited_rendered_files_are_caught() {
    let p = Project::new();
    p.write(
        "Dockerfile",
        &format!("{}RUN echo sneaky\n", p.read("Dockerfile")),
    );
    let err = p.drift(&[]);
    assert!(err.contains("Dockerfile is not what `envlock dockerfile` renders from conda-lock.yml; run `envlock dockerfile`"), "{err}");
    ok(p.dockerfile(&[]));
    ok(p.run("check", &[]));
    std::fs::remove_file(p.path("envlock/conda-linux-aarch64.txt")).unwrap();
    let err = p.drift(&[]);
    assert!(
        err.contains("envlock/conda-linux-aarch64.txt is missing"),
        "{err}"
    );
}

#[test]
fn changed_options_are_drift() {
    let p = Project::new();
    let out = envlock(&p.path("cache"))
        .current_dir(p.dir.path())
        .args(["check", "--channel-alias", &p.channel_server.url])
        .args(["--index-url", &format!("{}/simple/", p.index.url)])
        .args(["-p", "linux-64"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the lock has platforms [linux-64, linux-aarch64] but the inputs and options ask for [linux-64]"), "{err}");

    let err = p.drift(&["--virtual-package", "__glibc=2.28"]);
    assert!(
        err.contains("the virtual package set for linux-64"),
        "{err}"
    );
    let err = p.drift(&["--exclude-newer", "2024-01-01"]);
    assert!(
        err.contains("--exclude-newer is unset in the lock"),
        "{err}"
    );
}

#[test]
fn malformed_or_missing_locks_are_errors_not_drift() {
    let p = Project::new();
    p.write("conda-lock.yml", "version: 1\nmetadata: [\n");
    let err = fails(p.run("check", &[]));
    assert!(
        err.contains("conda-lock.yml:") && err.contains("not a valid conda-lock v1 file"),
        "{err}"
    );
    std::fs::remove_file(p.path("conda-lock.yml")).unwrap();
    let err = fails(p.run("check", &[]));
    assert!(
        err.contains("conda-lock.yml does not exist") && err.contains("envlock resolve"),
        "{err}"
    );
}

#[test]
fn updates_move_only_what_was_asked() {
    let p = Project::new();
    p.publish(&[
        ("alpha", "2.0", &[]),
        ("beta", "2.0", &["gamma"]),
        ("gamma", "2.0", &[]),
    ]);
    let before = p.read("conda-lock.yml");

    // Re-resolving unchanged inputs keeps every pin: the file does not change at all.
    ok(p.run("resolve", &[]));
    assert_eq!(p.read("conda-lock.yml"), before);
    // --check solves nothing when the lock is up to date.
    let err = ok(p.run("resolve", &["--check"]));
    assert!(err.contains("is up to date; nothing to solve"), "{err}");

    // Adding a dependency adds it and only what it needs.
    p.write(
        "environment.yml",
        &p.read("environment.yml")
            .replace("  - beta\n", "  - beta\n  - zstd\n"),
    );
    ok(p.run("resolve", &[]));
    assert_eq!(
        (p.version("alpha"), p.version("beta"), p.version("zstd")),
        ("1.0".into(), "1.0".into(), "1.5.5".into())
    );

    // --update beta moves beta and what it forces, nothing else.
    ok(p.run("resolve", &["--update", "beta"]));
    assert_eq!(
        (p.version("alpha"), p.version("beta")),
        ("1.0".into(), "2.0".into())
    );
    ok(p.run("resolve", &["--update-all"]));
    assert_eq!(
        (p.version("alpha"), p.version("beta"), p.version("gamma")),
        ("2.0".into(), "2.0".into(), "2.0".into())
    );
}

#[test]
fn dockerfile_locked_refuses_a_stale_lock() {
    let p = Project::new();
    ok(p.dockerfile(&["--locked"]));
    p.write(
        "environment.yml",
        &p.read("environment.yml")
            .replace("  - alpha\n", "  - alpha>=2\n"),
    );
    let before = p.read("Dockerfile");
    let out = p.dockerfile(&["--locked", "--preset", "flask"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refusing to render from a stale lock"),
        "{err}"
    );
    assert_eq!(p.read("Dockerfile"), before);
}

#[test]
fn extras_hashes_and_pip_options_are_part_of_what_is_checked() {
    let p = Project::new();
    let original = p.read("environment.yml");

    // An extra added to a requirement changes what must be locked.
    p.write(
        "environment.yml",
        &original.replace("    - webapp\n", "    - webapp[fast]\n"),
    );
    let err = p.drift(&[]);
    assert!(
        err.contains("ask for the extras [webapp[fast]] but the lock was resolved for []"),
        "{err}"
    );
    ok(p.run("resolve", &[]));
    assert_eq!(p.version("fastdep"), "1.0");
    ok(p.dockerfile(&[]));
    ok(p.run("check", &[]));

    // --hash values that do not include the locked file.
    p.write(
        "environment.yml",
        &original.replace(
            "    - webapp\n",
            &format!("    - webapp --hash=sha256:{}\n", "0".repeat(64)),
        ),
    );
    let err = p.drift(&[]);
    assert!(
        err.contains(
            "the `--hash` values of webapp in environment.yml:10:7 do not include the file locked"
        ),
        "{err}"
    );

    // A pip option that changes resolution.
    p.write(
        "environment.yml",
        &original.replace("  - pip:\n", "  - pip:\n    - --pre\n"),
    );
    let err = p.drift(&[]);
    assert!(err.contains("the resolution options changed"), "{err}");

    // Findings never show credentials from a requirement.
    let url = p.index.url.replace("http://", "http://user:s3cret@");
    p.write(
        "environment.yml",
        &original.replace(
            "    - webapp\n",
            &format!("    - webapp @ {url}/files/webapp-9.0-py3-none-any.whl\n"),
        ),
    );
    let out = p.run("check", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains("s3cret") && all.contains("webapp @ http://127.0.0.1"),
        "{all}"
    );
}
