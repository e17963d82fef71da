//! Faults of the servers envlock fetches from, injected by the test server ([`common::Mode`]):
//! status sequences, truncated `.zst`, a Content-Length the body falls short of, substituted
//! bodies, on the PyPI side (project pages, `.metadata`, wheels, sdists) and the conda side
//! (`repodata.json` and `.zst`, a sharded index and its shards). Every case ends in a correct lock (the fault was retried) or in
//! exit 2 with a message naming what failed, without credentials, and with the existing lock
//! byte for byte as it was and no temporary file left. (Retry-After, a body cut off midway, a
//! server that never answers and an ignored `Range` on the PyPI side are in tests/hardening.rs.)

mod common;

use std::process::Output;

use common::{Mode, Project, Server, fails, fixture_channels, ok};

/// A project whose `requirements.txt` (`tool`, which needs `six`) resolves against an index
/// served in `mode`, built by `build`; the conda side is the local `pyconda` fixture channel.
fn pypi(mode: Mode, build: impl FnOnce(&mut common::pypi_index::Index)) -> Project {
    let p = Project::new().serve_index(mode, build);
    p.write("requirements.txt", "tool\n");
    p
}

/// `tool` → `six`, wheels with `.metadata` files.
fn tool_and_six(index: &mut common::pypi_index::Index) {
    index.wheel("six", "1.16.0");
    index.wheel("tool", "1.0.0").requires(&["six>=1.10"]);
}

/// `envlock resolve requirements.txt` against `index_url`.
fn resolve_pypi(p: &Project, index_url: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = p.command(&["resolve", "requirements.txt", "--index-url", index_url]);
    cmd.arg("-c")
        .arg(fixture_channels().join("pyconda"))
        .args(["--python", "3.11", "-p", "linux-64"])
        .envs(env.iter().copied());
    cmd.output().unwrap()
}

/// Writes the lock a healthy server of the same index gives, then empties the cache, so that the
/// faulty run fetches everything again; returns the lock.
fn lock_from_a_healthy_pypi(p: &Project) -> String {
    let good = Server::start(&p.path("index"), Mode::Files);
    ok(resolve_pypi(p, &format!("{}/simple/", good.url), &[]));
    std::fs::remove_dir_all(&p.cache).unwrap();
    p.read("conda-lock.yml")
}

/// The `synthetic` fixture channel (linux-64 and noarch) under `<project>/channels`, as
/// `repodata.json` and, with `zst`, also `repodata.json.zst`, served in `mode`.
fn conda(mode: Mode, zst: bool) -> Project {
    let p = Project::new();
    for subdir in ["linux-64", "noarch"] {
        let json = std::fs::read(
            fixture_channels()
                .join("synthetic")
                .join(subdir)
                .join("repodata.json"),
        )
        .unwrap();
        let dir = p.path("channels/synthetic").join(subdir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("repodata.json"), &json).unwrap();
        if zst {
            std::fs::write(
                dir.join("repodata.json.zst"),
                zstd::encode_all(&json[..], 3).unwrap(),
            )
            .unwrap();
        }
    }
    p.write(
        "environment.yml",
        "channels: [synthetic]\ndependencies: [untimed]\n",
    );
    let root = p.path("channels");
    p.serve_channels(&root, mode)
}

/// The `synthetic` fixture channel (linux-64 and noarch) as a sharded index (CEP-16:
/// `repodata_shards.msgpack.zst` and one `shards/<sha256>.msgpack.zst` per package name), with
/// no `repodata.json` to fall back on, served in `mode`.
fn sharded(mode: Mode) -> Project {
    let p = Project::new();
    for subdir in ["linux-64", "noarch"] {
        let text = std::fs::read_to_string(
            fixture_channels()
                .join("synthetic")
                .join(subdir)
                .join("repodata.json"),
        )
        .unwrap();
        let repodata: serde_json::Value = serde_json::from_str(&text).unwrap();
        let dir = p.path("channels/synthetic").join(subdir);
        std::fs::create_dir_all(dir.join("shards")).unwrap();
        let mut by_name: std::collections::BTreeMap<String, serde_json::Value> = Default::default();
        for key in ["packages", "packages.conda"] {
            let Some(records) = repodata[key].as_object() else {
                continue;
            };
            for (file, record) in records {
                let name = record["name"].as_str().unwrap().to_string();
                let shard = by_name.entry(name).or_insert_with(
                    || serde_json::json!({"packages": {}, "packages.conda": {}, "removed": []}),
                );
                shard[key][file] = record.clone();
            }
        }
        let mut shards = serde_json::Map::new();
        for (name, shard) in by_name {
            let shard: rattler_conda_types::Shard = serde_json::from_value(shard).unwrap();
            let bytes = zstd::encode_all(&rmp_serde::to_vec_named(&shard).unwrap()[..], 3).unwrap();
            let sha256 =
                hex::encode(rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(&bytes));
            std::fs::write(dir.join(format!("shards/{sha256}.msgpack.zst")), bytes).unwrap();
            shards.insert(name, serde_json::json!(sha256));
        }
        let index = serde_json::json!({
            "info": {"subdir": subdir, "base_url": "./", "shards_base_url": "./shards/"},
            "shards": shards,
        });
        let index: rattler_conda_types::ShardedRepodata = serde_json::from_value(index).unwrap();
        std::fs::write(
            dir.join("repodata_shards.msgpack.zst"),
            zstd::encode_all(&rmp_serde::to_vec_named(&index).unwrap()[..], 3).unwrap(),
        )
        .unwrap();
    }
    p.write(
        "environment.yml",
        "channels: [synthetic]\ndependencies: [untimed]\n",
    );
    let root = p.path("channels");
    p.serve_channels(&root, mode)
}

/// `envlock resolve` of `environment.yml` with `alias` as the channel alias.
fn resolve_conda(p: &Project, alias: &str, env: &[(&str, &str)]) -> Output {
    p.command(&["resolve", "--channel-alias", alias, "-p", "linux-64"])
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// As [`lock_from_a_healthy_pypi`], for the channels.
fn lock_from_healthy_channels(p: &Project) -> String {
    let good = Server::start(&p.path("channels"), Mode::Files);
    ok(resolve_conda(p, &good.url, &[]));
    std::fs::remove_dir_all(&p.cache).unwrap();
    p.read("conda-lock.yml")
}

/// The lock is `before`, byte for byte, and no temporary file of envlock's is left anywhere in
/// the project (the cache included).
fn intact(p: &Project, before: &str) {
    assert_eq!(p.read("conda-lock.yml"), before, "the lock is as it was");
    let left: Vec<_> = common::files_under(p.dir.path())
        .into_iter()
        .filter(|f| {
            let name = f.file_name().unwrap().to_string_lossy();
            name.contains(".envlock-") && name.ends_with(".tmp")
        })
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

/// The statuses `server` answered for paths ending with `end`.
fn statuses(server: &Server, end: &str) -> Vec<u16> {
    server
        .hits()
        .iter()
        .filter(|h| h.path.ends_with(end))
        .map(|h| h.status)
        .collect()
}

// ---- status sequences ----

/// 503, 503, then the file, for every page and `.metadata` file: retried into the same lock a
/// healthy index gives.
#[test]
fn pypi_503_twice_then_200_is_retried() {
    let p = pypi(Mode::Statuses("", &[503, 503]), tool_and_six);
    let healthy = lock_from_a_healthy_pypi(&p);
    p.remove("conda-lock.yml");
    ok(resolve_pypi(&p, &p.index_url(), &[]));
    assert_eq!(statuses(p.index_server(), "/simple/tool/"), [503, 503, 200]);
    assert_eq!(
        statuses(p.index_server(), "six-1.16.0-py3-none-any.whl.metadata"),
        [503, 503, 200]
    );
    assert_eq!(packages(&p.read("conda-lock.yml")), packages(&healthy));
}

/// A lock's `package:` list, with the index's `http://127.0.0.1:PORT` as `URL` (the metadata
/// above it hashes the index URL).
fn packages(lock: &str) -> String {
    let list = &lock[lock.find("\npackage:\n").expect("a package list")..];
    let at = list.find("http://127.0.0.1:").expect("an index URL");
    let port = list[at + 17..].find(|c: char| !c.is_ascii_digit()).unwrap();
    list.replace(&list[at..at + 17 + port], "URL")
}

/// A project page that stays 503 fails after the retries with exit 2, naming the page's URL
/// without the user info or the token of the index URL, and the lock stays as it was.
#[test]
fn pypi_a_page_that_stays_503_fails_naming_it() {
    let p = pypi(Mode::Statuses("/simple/tool/", &[503; 10]), tool_and_six);
    let before = lock_from_a_healthy_pypi(&p);
    let url = p.index_url().replace("http://", "http://alice:s3cret@") + "?token=t0k3n";
    let err = fails(resolve_pypi(&p, &url, &[]));
    let page = format!("{}tool/", p.index_url());
    assert!(err.contains(&page), "{err}");
    assert!(err.contains("503"), "{err}");
    for secret in ["alice", "s3cret", "t0k3n"] {
        assert!(!err.contains(secret), "{err}");
    }
    assert_eq!(statuses(p.index_server(), "/simple/tool/").len(), 4);
    intact(&p, &before);
}

/// A `.metadata` file that stays 503 is not needed: the metadata comes from the wheel instead.
#[test]
fn pypi_a_metadata_file_that_stays_503_is_done_without() {
    let p = pypi(Mode::Statuses(".whl.metadata", &[503; 10]), tool_and_six);
    let healthy = lock_from_a_healthy_pypi(&p);
    p.remove("conda-lock.yml");
    ok(resolve_pypi(&p, &p.index_url(), &[]));
    assert_eq!(packages(&p.read("conda-lock.yml")), packages(&healthy));
}

/// Channels answering 503 twice, then the file, for every path (the sharded-index probe, the
/// `.zst` checks and downloads): retried into a lock.
#[test]
fn conda_503_twice_then_200_is_retried() {
    let p = conda(Mode::Statuses("", &[503, 503]), true);
    ok(resolve_conda(&p, p.channel_alias(), &[]));
    let server = p.channels.as_ref().unwrap();
    assert_eq!(
        statuses(server, "/linux-64/repodata.json.zst")
            .into_iter()
            .filter(|&s| s == 503)
            .count(),
        4,
        "HEAD and GET each got 503 twice: {:?}",
        server.hits()
    );
    assert!(p.read("conda-lock.yml").contains("name: untimed"));
}

/// A `repodata.json` that stays 503 fails with exit 2 naming its URL without the alias's user
/// info, and the lock stays as it was.
#[test]
fn conda_repodata_that_stays_503_fails_naming_it() {
    let p = conda(Mode::Statuses("/noarch/repodata.json", &[503; 10]), false);
    let before = lock_from_healthy_channels(&p);
    let alias = p.channel_alias().replace("http://", "http://alice:s3cret@");
    let err = fails(resolve_conda(&p, &alias, &[]));
    let url = format!("{}/synthetic/noarch/repodata.json", p.channel_alias());
    assert!(err.contains(&url), "{err}");
    assert!(err.contains("503"), "{err}");
    assert!(!err.contains("alice") && !err.contains("s3cret"), "{err}");
    intact(&p, &before);
}

// ---- Retry-After, a body cut off midway, a server that never answers: the conda side ----

/// `429` with `Retry-After: 1` from a channel is waited out and retried.
#[test]
fn conda_retry_after_is_honoured() {
    let p = conda(Mode::RetryAfterFirst, true);
    ok(resolve_conda(&p, p.channel_alias(), &[]));
    let hits = p.channels.as_ref().unwrap().hits();
    assert!(hits.iter().any(|h| h.status == 429), "{hits:?}");
    assert!(p.read("conda-lock.yml").contains("name: untimed"));
}

/// A channel connection closed in the middle of the repodata body is retried.
#[test]
fn conda_a_body_cut_off_midway_is_retried() {
    for zst in [false, true] {
        let p = conda(Mode::DropFirstBody, zst);
        ok(resolve_conda(&p, p.channel_alias(), &[]));
        assert!(p.read("conda-lock.yml").contains("name: untimed"));
    }
}

/// A channel that never answers fails after `ENVLOCK_HTTP_TIMEOUT` and the one more try, with
/// exit 2, and the lock stays as it was.
#[test]
fn conda_a_channel_that_never_answers_fails() {
    let p = conda(Mode::Hang, true);
    let before = lock_from_healthy_channels(&p);
    let out = resolve_conda(&p, p.channel_alias(), &[("ENVLOCK_HTTP_TIMEOUT", "1")]);
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    // Each timeout is said as it happens, then the error names the request.
    assert!(
        err.starts_with(&format!(
            "warning: no answer from {}/synthetic/",
            p.channel_alias()
        )),
        "{err}"
    );
    let error = &err[err.find("error: ").expect("an error")..];
    assert!(
        error.contains(&format!("{}/synthetic/", p.channel_alias())) && error.contains("timed out"),
        "{err}"
    );
    intact(&p, &before);
}

// ---- a transfer that stalls midway ----

/// A project page whose body stops midway, every time: after `ENVLOCK_HTTP_TIMEOUT` and one
/// more try, exit 2 naming the page, the lock as it was.
#[test]
fn pypi_a_page_that_stalls_midway_fails_naming_it() {
    let p = pypi(Mode::StallBody("/simple/six/", usize::MAX), tool_and_six);
    let before = lock_from_a_healthy_pypi(&p);
    let out = resolve_pypi(&p, &p.index_url(), &[("ENVLOCK_HTTP_TIMEOUT", "1")]);
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    let page = format!("{}six/", p.index_url());
    assert!(
        err.starts_with(&format!(
            "warning: no answer from {page} within 1 s; trying once more\n"
        )),
        "{err}"
    );
    let error = &err[err.find("error: ").expect("an error")..];
    assert!(
        error.contains(&page) && error.contains("timed out"),
        "{err}"
    );
    intact(&p, &before);
}

/// A wheel download (no `.metadata` file) that stalls once is tried again into a lock.
#[test]
fn pypi_a_wheel_that_stalls_once_is_retried() {
    let p = pypi(Mode::StallBody(".whl", 1), |index| {
        index.wheel("six", "1.16.0");
        index
            .wheel("tool", "1.0.0")
            .requires(&["six>=1.10"])
            .no_metadata_file();
    });
    ok(resolve_pypi(
        &p,
        &p.index_url(),
        &[("ENVLOCK_HTTP_TIMEOUT", "1")],
    ));
    assert!(p.read("conda-lock.yml").contains("name: six"));
    assert!(statuses(p.index_server(), "tool-1.0.0-py3-none-any.whl").len() >= 2);
}

/// Repodata (`.json`, `.zst`) and a sharded index whose transfer stalls once: tried again into
/// a lock.
#[test]
fn conda_repodata_that_stalls_once_is_retried() {
    for (p, end) in [
        (
            conda(Mode::StallBody("/linux-64/repodata.json", 1), false),
            "/linux-64/repodata.json",
        ),
        (
            conda(Mode::StallBody("/linux-64/repodata.json.zst", 1), true),
            "/linux-64/repodata.json.zst",
        ),
        (
            sharded(Mode::StallBody(".msgpack.zst", 1)),
            "/linux-64/repodata_shards.msgpack.zst",
        ),
    ] {
        ok(resolve_conda(
            &p,
            p.channel_alias(),
            &[("ENVLOCK_HTTP_TIMEOUT", "1")],
        ));
        assert!(p.read("conda-lock.yml").contains("name: untimed"));
        let hits = p.channels.as_ref().unwrap().hits();
        let gets = hits
            .iter()
            .filter(|h| h.method == "GET" && h.path.ends_with(end));
        assert_eq!(gets.count(), 2, "{end}: the stalled one and the retry");
    }
}

// ---- wrong Content-Length: the header promises more than is sent, then the connection closes ----

/// Once per path (pages, `.metadata`, whole files and ranges): retried into a lock.
#[test]
fn pypi_a_short_body_once_is_retried() {
    let p = pypi(Mode::ShortBody("", 1), |index| {
        index.wheel("six", "1.16.0");
        index
            .wheel("tool", "1.0.0")
            .requires(&["six>=1.10"])
            .no_metadata_file();
    });
    ok(resolve_pypi(&p, &p.index_url(), &[]));
    assert!(p.read("conda-lock.yml").contains("name: six"));
}

/// Every time for one page: exit 2 naming the page, the lock as it was.
#[test]
fn pypi_a_page_always_short_fails_naming_it() {
    let p = pypi(Mode::ShortBody("/simple/six/", usize::MAX), tool_and_six);
    let before = lock_from_a_healthy_pypi(&p);
    let err = fails(resolve_pypi(&p, &p.index_url(), &[]));
    assert!(err.contains(&format!("{}six/", p.index_url())), "{err}");
    intact(&p, &before);
}

/// Every time for a wheel without a `.metadata` file (its range requests and its download):
/// exit 2 naming the wheel.
#[test]
fn pypi_a_wheel_always_short_fails_naming_it() {
    let p = pypi(Mode::ShortBody(".whl", usize::MAX), |index| {
        index.wheel("six", "1.16.0");
        index
            .wheel("tool", "1.0.0")
            .requires(&["six>=1.10"])
            .no_metadata_file();
    });
    let before = lock_from_a_healthy_pypi(&p);
    let err = fails(resolve_pypi(&p, &p.index_url(), &[]));
    assert!(err.contains("tool-1.0.0-py3-none-any.whl"), "{err}");
    intact(&p, &before);
}

/// An sdist download cut short once is retried.
#[test]
fn pypi_an_sdist_short_once_is_retried() {
    let p = pypi(Mode::ShortBody(".tar.gz", 1), |index| {
        index.wheel("six", "1.16.0");
        index.sdist("tool", "1.0.0").requires(&["six>=1.10"]);
    });
    ok(resolve_pypi(&p, &p.index_url(), &[]));
    assert!(p.read("conda-lock.yml").contains("name: six"));
    let hits = statuses(p.index_server(), ".tar.gz");
    assert!(hits.len() >= 2, "{hits:?}");
}

/// Channels: the repodata (`.json` and `.zst`) cut short once is retried; every time, exit 2
/// naming it.
#[test]
fn conda_repodata_short_is_retried_or_named() {
    for zst in [false, true] {
        let p = conda(Mode::ShortBody("repodata.json", 1), zst);
        ok(resolve_conda(&p, p.channel_alias(), &[]));
        assert!(p.read("conda-lock.yml").contains("name: untimed"));
    }
    let p = conda(
        Mode::ShortBody("/linux-64/repodata.json", usize::MAX),
        false,
    );
    let before = lock_from_healthy_channels(&p);
    let err = fails(resolve_conda(&p, p.channel_alias(), &[]));
    let url = format!("{}/synthetic/linux-64/repodata.json", p.channel_alias());
    assert!(err.contains(&url), "{err}");
    intact(&p, &before);
}

// ---- truncated zst: a compressed body cut short, with a Content-Length to match ----

/// Cut once: retried into a lock.
#[test]
fn conda_truncated_zst_once_is_retried() {
    let p = conda(Mode::TruncatedZst(1), true);
    ok(resolve_conda(&p, p.channel_alias(), &[]));
    let server = p.channels.as_ref().unwrap();
    let gets = server
        .hits()
        .into_iter()
        .filter(|h| h.method == "GET" && h.path == "/synthetic/linux-64/repodata.json.zst")
        .count();
    assert_eq!(gets, 2, "{:?}", server.hits());
    assert!(p.read("conda-lock.yml").contains("name: untimed"));
}

/// Cut every time: exit 2 naming the file, the lock as it was.
#[test]
fn conda_truncated_zst_always_fails_naming_it() {
    let p = conda(Mode::TruncatedZst(usize::MAX), true);
    let before = lock_from_healthy_channels(&p);
    let err = fails(resolve_conda(&p, p.channel_alias(), &[]));
    assert!(err.contains("/synthetic/"), "{err}");
    assert!(err.contains("repodata.json.zst"), "{err}");
    intact(&p, &before);
}

// ---- substituted bodies ----

/// A wheel whose bytes are not the ones the index hashes (no `.metadata` file, so its metadata
/// is read from the wheel) is refused as a hash mismatch, not locked.
#[test]
fn pypi_a_substituted_wheel_is_a_hash_mismatch() {
    let p = pypi(
        Mode::Substitute("tool-1.0.0-py3-none-any.whl", b"PK\x03\x04 not the wheel"),
        |index| {
            index.wheel("six", "1.16.0");
            index
                .wheel("tool", "1.0.0")
                .requires(&["six>=1.10"])
                .no_metadata_file();
        },
    );
    let before = lock_from_a_healthy_pypi(&p);
    let err = fails(resolve_pypi(&p, &p.index_url(), &[]));
    assert!(
        err.contains("tool-1.0.0-py3-none-any.whl does not match the sha256 the index gives"),
        "{err}"
    );
    intact(&p, &before);
}

/// A `.metadata` file the page gives a sha256 for, with other bytes (here: without the
/// dependency), is refused, not locked with `six` missing.
#[test]
fn pypi_a_substituted_advertised_metadata_file_is_refused() {
    let p = pypi(
        Mode::Substitute(
            "tool-1.0.0-py3-none-any.whl.metadata",
            b"Metadata-Version: 2.1\nName: tool\nVersion: 1.0.0\n",
        ),
        |index| {
            index.wheel("six", "1.16.0");
            index
                .wheel("tool", "1.0.0")
                .requires(&["six>=1.10"])
                .advertise_metadata();
        },
    );
    let before = lock_from_a_healthy_pypi(&p);
    let err = fails(resolve_pypi(&p, &p.index_url(), &[]));
    assert!(
        err.contains("tool-1.0.0-py3-none-any.whl.metadata does not match its advertised sha256"),
        "{err}"
    );
    intact(&p, &before);
}

/// An sdist with other bytes than the index hashes is refused as a hash mismatch.
#[test]
fn pypi_a_substituted_sdist_is_a_hash_mismatch() {
    let p = pypi(
        Mode::Substitute("tool-1.0.0.tar.gz", b"\x1f\x8b not it"),
        |index| {
            index.wheel("six", "1.16.0");
            index.sdist("tool", "1.0.0").requires(&["six>=1.10"]);
        },
    );
    let before = lock_from_a_healthy_pypi(&p);
    let err = fails(resolve_pypi(&p, &p.index_url(), &[]));
    assert!(
        err.contains("tool-1.0.0.tar.gz does not match the sha256 the index gives"),
        "{err}"
    );
    intact(&p, &before);
}

/// A project page replaced by a captive portal's HTML (no links) fails saying that the page
/// lists no files, not just "you require `tool`".
#[test]
fn pypi_a_substituted_page_fails_naming_it() {
    let p = pypi(
        Mode::Substitute("/simple/tool/", b"<html><body>Please log in</body></html>"),
        tool_and_six,
    );
    let before = lock_from_a_healthy_pypi(&p);
    let err = fails(resolve_pypi(&p, &p.index_url(), &[]));
    let page = format!("{}tool/", p.index_url());
    assert!(
        err.contains(&format!("`tool`: the index page {page} lists no files\n")),
        "{err}"
    );
    assert!(err.contains(&format!("hint: open {page}")), "{err}");
    intact(&p, &before);
}

/// A `repodata.json` (or `.zst`) replaced by a portal's page fails with exit 2 naming its URL
/// (the gateway's "failed to parse repodata.json" does not), the lock as it was.
#[test]
fn conda_substituted_repodata_fails_naming_it() {
    for (zst, end) in [
        (false, "/linux-64/repodata.json"),
        (true, "/linux-64/repodata.json.zst"),
    ] {
        let p = conda(
            Mode::Substitute(end, b"<html><body>Please log in</body></html>"),
            zst,
        );
        let before = lock_from_healthy_channels(&p);
        let err = fails(resolve_conda(&p, p.channel_alias(), &[]));
        let url = format!("{}/synthetic{end}", p.channel_alias());
        assert!(err.contains(&url), "{end}: {err}");
        intact(&p, &before);
    }
}

// ---- sharded repodata ----

/// The healthy sharded channel: the shards are what the solve reads.
#[test]
fn conda_sharded_repodata_is_used() {
    let p = sharded(Mode::Files);
    ok(resolve_conda(&p, p.channel_alias(), &[]));
    assert!(p.read("conda-lock.yml").contains("name: untimed"));
    let hits = p.channels.as_ref().unwrap().hits();
    assert!(
        hits.iter()
            .any(|h| h.path.contains("/shards/") && h.status == 200),
        "{hits:?}"
    );
}

/// The shard index and the shards cut short once, by a closed connection or as a truncated
/// `.zst` with a matching Content-Length: retried into a lock.
#[test]
fn conda_sharded_faults_once_are_retried() {
    for mode in [
        Mode::ShortBody("/repodata_shards.msgpack.zst", 1),
        Mode::ShortBody(".msgpack.zst", 1),
        Mode::TruncatedZst(1),
        Mode::Statuses("", &[503, 503]),
    ] {
        let p = sharded(mode);
        ok(resolve_conda(&p, p.channel_alias(), &[]));
        assert!(p.read("conda-lock.yml").contains("name: untimed"));
    }
}

/// The shard index cut short every time (a truncated `.zst`, a closed connection): exit 2
/// naming it, the lock as it was.
#[test]
fn conda_a_shard_index_always_cut_short_fails_naming_it() {
    for mode in [
        Mode::TruncatedZst(usize::MAX),
        Mode::ShortBody("/repodata_shards.msgpack.zst", usize::MAX),
    ] {
        let p = sharded(mode);
        let before = lock_from_healthy_channels(&p);
        let err = fails(resolve_conda(&p, p.channel_alias(), &[]));
        let index = format!("{}/synthetic/", p.channel_alias());
        assert!(
            err.contains(&index) && err.contains("/repodata_shards.msgpack.zst"),
            "{err}"
        );
        intact(&p, &before);
    }
}

/// A shard whose bytes are not the ones the index hashes: exit 2 naming it, not a lock made
/// from it.
#[test]
fn conda_a_substituted_shard_is_a_hash_mismatch() {
    let p = sharded(Mode::Files);
    ok(resolve_conda(&p, p.channel_alias(), &[]));
    std::fs::remove_dir_all(&p.cache).unwrap();
    let before = p.read("conda-lock.yml");
    let shard = p
        .channels
        .as_ref()
        .unwrap()
        .hits()
        .into_iter()
        .map(|h| h.path)
        .find(|path| path.starts_with("/synthetic/linux-64/shards/"))
        .expect("a linux-64 shard was fetched");
    let path: &'static str = Box::leak(shard.clone().into_boxed_str());
    let bad = zstd::encode_all(&b"\x80"[..], 3).unwrap();
    let server = Server::start(
        &p.path("channels"),
        Mode::Substitute(path, Box::leak(bad.into_boxed_slice())),
    );
    let err = fails(resolve_conda(&p, &server.url, &[]));
    assert!(err.contains(&format!("{}{shard}", server.url)), "{err}");
    intact(&p, &before);
}

/// A sharded-only channel whose shard index stays 503: the probe is passed over for
/// `repodata.json` (a mirror may answer 5xx for a file it lacks), which is not there; the error
/// says the index answered 503, not only that `repodata.json` is missing.
#[test]
fn conda_a_shard_index_that_stays_503_is_named() {
    let p = sharded(Mode::Statuses("/repodata_shards.msgpack.zst", &[503; 10]));
    let before = lock_from_healthy_channels(&p);
    let err = fails(resolve_conda(&p, p.channel_alias(), &[]));
    let index = format!(
        "{}/synthetic/noarch/repodata_shards.msgpack.zst answered 503 Service Unavailable",
        p.channel_alias()
    );
    assert!(err.contains(&index), "{err}");
    intact(&p, &before);
}
