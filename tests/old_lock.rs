//! A lock, Dockerfile and `envlock/` files written by an earlier envlock (the build of commit
//! 3197176, before the stage reorganisation) still read: `check` passes, a re-resolve keeps every
//! pin and the fingerprint (the lock stays byte-identical but for `created_by`), and `dockerfile`
//! renders the same files from the options it recorded (but for the deliberate changes listed in
//! `upgraded`). That lock was solved for `__glibc=2.17`, the table's
//! value then: without flags, both commands take it (and the other options) from the lock.
//!
//! The fixture (`tests/data/old-lock/`, see its README) names its channel and index under
//! `http://envlock.invalid/`, so no port or temporary path is baked into the lock: the test
//! serves both through a local HTTP proxy on whatever port is free.

mod common;

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use common::{Mode, Server, envlock, ok};

const LOCKED_WITH: [&str; 8] = [
    "-p",
    "linux-64",
    "--channel-alias",
    "http://envlock.invalid/channels",
    "--index-url",
    "http://envlock.invalid/index/simple/",
    "--exclude-newer",
    "2030-01-01",
];

/// The files `envlock dockerfile` wrote next to the lock.
const RENDERED: [&str; 5] = [
    "Dockerfile",
    "envlock/conda-linux-64.txt",
    "envlock/pip-linux-64.txt",
    "envlock/entrypoint.sh",
    ".dockerignore",
];

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/old-lock")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

struct OldProject {
    dir: tempfile::TempDir,
    proxy: Server,
}

impl OldProject {
    fn new() -> OldProject {
        let dir = tempfile::tempdir().unwrap();
        // Through a proxy, a request names the whole URL (`GET http://envlock.invalid/...`),
        // which the test server looks up as the path `<root>/http:/envlock.invalid/...`.
        let host = dir.path().join("root/http:/envlock.invalid");
        copy_dir(&data().join("channels"), &host.join("channels"));
        copy_dir(&data().join("index"), &host.join("index"));
        copy_dir(&data().join("project"), &dir.path().join("project"));
        let proxy = Server::start(&dir.path().join("root"), Mode::Files);
        OldProject { dir, proxy }
    }

    fn project(&self, name: &str) -> PathBuf {
        self.dir.path().join("project").join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        envlock(&self.dir.path().join("cache"))
            .current_dir(self.dir.path().join("project"))
            .env("HTTP_PROXY", &self.proxy.url)
            .env("http_proxy", &self.proxy.url)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .env_remove("ENVLOCK_INDEX_URL")
            .args(args)
            .output()
            .unwrap()
    }

    /// Publishes tini 0.20.0 for linux-64, newer than the locked 0.19.0.
    fn publish_newer_tini(&self) {
        let path = self
            .dir
            .path()
            .join("root/http:/envlock.invalid/channels/pyconda/linux-64/repodata.json");
        let mut repodata: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut tini = repodata["packages.conda"]["tini-0.19.0-h0_0.conda"].clone();
        tini["version"] = "0.20.0".into();
        tini["sha256"] = format!("{:064x}", 20).into();
        tini["md5"] = format!("{:032x}", 20).into();
        repodata["packages.conda"]["tini-0.20.0-h0_0.conda"] = tini;
        std::fs::write(&path, repodata.to_string()).unwrap();
    }

    /// Asserts that `name` in the project is byte-identical to the fixture's, but for the
    /// changes later envlock versions make on purpose ([`upgraded`]).
    fn unchanged(&self, name: &str, after: &str) {
        let fixture = upgraded(
            name,
            &std::fs::read_to_string(data().join("project").join(name)).unwrap(),
        );
        let now = std::fs::read_to_string(self.project(name)).unwrap();
        assert!(
            fixture == now,
            "{name} changed after {after}:\n--- fixture\n{fixture}\n--- now\n{now}"
        );
    }
}

/// The fixture's `name` as today's envlock writes it: each later, deliberate change to what
/// envlock writes is one line here, so that everything else stays pinned byte for byte.
fn upgraded(name: &str, fixture: &str) -> String {
    let replace_all = |changes: &[(&str, &str)]| {
        changes
            .iter()
            .fold(fixture.to_string(), |text, (from, to)| {
                assert!(text.contains(from), "{name} lacks {from:?}");
                text.replacen(from, to, 1)
            })
    };
    let replace = |from: &str, to: &str| replace_all(&[(from, to)]);
    match name {
        // `created_by`, which conda's lockfile plugin requires.
        "conda-lock.yml" => replace(
            "  custom_metadata:\n",
            &format!(
                "  custom_metadata:\n    created_by: envlock {}\n",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        // The env's bin first on PATH.
        "envlock/entrypoint.sh" => replace(
            "export PATH=\"$CONDA_PREFIX/bin:$PATH\"\n",
            "# The image's ENV already starts PATH with the env; add it unless a caller's PATH starts with it.\n\
             case \"$PATH\" in\n  \"$CONDA_PREFIX/bin\" | \"$CONDA_PREFIX/bin:\"*) ;;\n  *) export PATH=\"$CONDA_PREFIX/bin:$PATH\" ;;\nesac\n",
        ),
        // Cached, reproducible builds: BuildKit cache mounts for conda's and pip's package
        // caches (no `conda clean`, no `--no-cache-dir`), conda copying out of its cache
        // (`--copy`), conda's history emptied and its created_at set to SOURCE_DATE_EPOCH (the
        // lock's cutoff), which with PYTHONHASHSEED also makes pyc files independent of the build.
        "Dockerfile" => replace_all(&[
            (
                "ARG TARGETARCH\n",
                "ARG TARGETARCH\n\
                 # Reproducible layers: the pyc files pip and conda write hold hashes of their sources, not\n\
                 # the build's time (SOURCE_DATE_EPOCH, from the lock), nor the order of a random hash seed.\n\
                 ARG SOURCE_DATE_EPOCH=1893542399\n\
                 ARG PYTHONHASHSEED=0\n",
            ),
            (
                "RUN arch=",
                "RUN --mount=type=cache,target=/opt/conda/pkgs,sharing=locked \\\n    arch=",
            ),
            (
                " --yes \\\n && conda clean --all --yes \\\n",
                " --yes --copy \\\n \
                 && : > /opt/conda/envs/env/conda-meta/history \\\n \
                 && { [ ! -f /opt/conda/envs/env/conda-meta/created_at ] \\\n      \
                 || printf '%s' \"${SOURCE_DATE_EPOCH:-0}\" > /opt/conda/envs/env/conda-meta/created_at; } \\\n",
            ),
            (
                "RUN if grep",
                "RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \\\n    if grep",
            ),
            (
                " --no-cache-dir -r /opt/envlock/pip.txt",
                " -r /opt/envlock/pip.txt",
            ),
        ]),
        // (A new `.dockerignore` also ignores envlock's temporary files; an existing one is
        // the user's and is not rewritten.)
        _ => fixture.to_string(),
    }
}

#[test]
fn an_old_lock_checks_re_resolves_and_renders_unchanged() {
    let p = OldProject::new();

    // The lock agrees; only the rendered files that envlock now writes differently (see
    // `upgraded`) are drift, fixed by `envlock dockerfile`.
    let out = p.run(&[&["check"][..], &LOCKED_WITH].concat());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let findings: Vec<&str> = err.lines().filter(|l| l.starts_with("drift:")).collect();
    assert!(
        !findings.is_empty()
            && findings
                .iter()
                .all(|l| l.contains("envlock/entrypoint.sh is not what")
                    || l.contains("Dockerfile is not what")),
        "{err}"
    );
    ok(p.run(&["dockerfile", "--locked"]));
    let err = ok(p.run(&[&["check"][..], &LOCKED_WITH].concat()));
    // One line, no findings (the timing varies).
    assert!(
        err.starts_with("Checked conda-lock.yml agrees with the inputs and the rendered files (")
            && err.ends_with(" ms)\n")
            && err.lines().count() == 1,
        "{err}"
    );

    // Without the flags, check takes them from the lock, with its __glibc=2.17.
    let err = ok(p.run(&["check"]));
    assert!(err.starts_with("Checked conda-lock.yml agrees"), "{err}");

    // The channel has moved on since: a re-resolve keeps the old pins only if it still finds
    // the old fingerprint in the lock.
    p.publish_newer_tini();
    ok(p.run(&[&["resolve"][..], &LOCKED_WITH].concat()));
    p.unchanged("conda-lock.yml", "envlock resolve");
    // So does one without the flags, from the recorded channel alias and index, and it says so.
    let err = ok(p.run(&["resolve"]));
    p.unchanged("conda-lock.yml", "envlock resolve (recorded options)");
    assert!(
        err.starts_with(
            "note: using the options conda-lock.yml records: -p linux-64 \
             --channel-alias http://envlock.invalid/channels \
             --virtual-package __glibc=2.17 \
             --exclude-newer 2030-01-01T23:59:59.999999999Z \
             --index-url http://envlock.invalid/index/simple/ (`--reset` uses the defaults)\n"
        ),
        "{err}"
    );

    // A plain re-run takes every option from what the old run recorded.
    ok(p.run(&["dockerfile"]));
    p.unchanged("conda-lock.yml", "envlock dockerfile");
    for name in RENDERED {
        p.unchanged(name, "envlock dockerfile");
    }
    ok(p.run(&[&["check"][..], &LOCKED_WITH].concat()));

    // Without the pins the newer tini is taken, so the kept 0.19.0 above was a pin.
    ok(p.run(&[&["resolve", "--update-all"][..], &LOCKED_WITH].concat()));
    let lock = std::fs::read_to_string(p.project("conda-lock.yml")).unwrap();
    assert!(lock.contains("tini-0.20.0-h0_0.conda"), "{lock}");
}
