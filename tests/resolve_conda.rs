//! `envlock resolve` end to end: the built binary against channels served over real HTTP on
//! 127.0.0.1, solved by the real solver, checked through the real conda-lock parser.

mod common;

use std::path::{Path, PathBuf};

use common::{Mode, Server, envlock, fails, fixture_channels, ok, shared_channels};
use rattler_conda_lock::{LockFile, Manager, Package};

struct Project {
    dir: tempfile::TempDir,
    cache: PathBuf,
}

impl Project {
    fn new(environment_yml: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("environment.yml"), environment_yml).unwrap();
        let cache = dir.path().join("cache");
        Project { dir, cache }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `envlock resolve environment.yml ARGS...` in the project directory.
    fn resolve(&self, server: &Server, args: &[&str]) -> std::process::Output {
        self.run("resolve", server, args)
    }

    /// `envlock COMMAND environment.yml --channel-alias <server> ARGS...`.
    fn run(&self, command: &str, server: &Server, args: &[&str]) -> std::process::Output {
        envlock(&self.cache)
            .current_dir(self.dir.path())
            .args([command, "environment.yml", "--channel-alias", &server.url])
            .args(args)
            .output()
            .unwrap()
    }

    fn lock(&self) -> LockFile {
        envlock::lock::read(&self.path("conda-lock.yml")).unwrap()
    }

    fn lock_text(&self) -> String {
        std::fs::read_to_string(self.path("conda-lock.yml")).unwrap()
    }
}

fn env(channels: &[&str], deps: &[&str]) -> String {
    let mut s = String::from("channels:\n");
    for c in channels {
        s.push_str(&format!("  - {c}\n"));
    }
    s.push_str("dependencies:\n");
    for d in deps {
        s.push_str(&format!("  - \"{d}\"\n"));
    }
    s
}

fn locked<'a>(lock: &'a LockFile, platform: &str, name: &str) -> &'a Package {
    lock.package
        .iter()
        .find(|p| p.platform == platform && p.name == name)
        .unwrap_or_else(|| panic!("{name} is not locked for {platform}"))
}

fn versions(lock: &LockFile, platform: &str) -> Vec<String> {
    lock.package
        .iter()
        .filter(|p| p.platform == platform)
        .map(|p| format!("{} {}", p.name, p.version))
        .collect()
}

fn synthetic() -> Server {
    Server::start(&fixture_channels(), Mode::Files)
}

/// What a user relies on in any lock: hashes, URLs, and a closed dependency graph.
/// What a user relies on in any lock: hashes and URLs on every entry, and `envlock check` (with
/// the options the lock was made with) finding every spec matched and every dependency met.
fn assert_sound(project: &Project, server: &Server, args: &[&str]) {
    let lock = project.lock();
    for p in &lock.package {
        assert_eq!(p.manager, Manager::Conda);
        assert!(p.url.starts_with("http"), "{}: {}", p.name, p.url);
        assert_eq!(
            p.hash.sha256.as_ref().map(String::len),
            Some(64),
            "{}",
            p.name
        );
        assert_eq!(p.hash.md5.as_ref().map(String::len), Some(32), "{}", p.name);
    }
    let err = ok(project.run("check", server, args));
    assert!(err.contains("agrees with the inputs"), "{err}");
}

#[test]
fn locks_the_highest_versions_with_hashes() {
    let server = synthetic();
    let p = Project::new(&env(&["synthetic"], &["numpy", "tzdata", "purepy"]));
    let err = ok(p.resolve(&server, &["-p", "linux-64"]));
    assert!(
        err.contains("Locked linux-64 (6 packages) into conda-lock.yml"),
        "{err}"
    );
    let lock = p.lock();
    assert_sound(&p, &server, &["-p", "linux-64"]);
    assert_eq!(locked(&lock, "linux-64", "numpy").version, "2.0.0");
    assert_eq!(locked(&lock, "linux-64", "python").version, "3.11.0");
    // noarch packages are locked under the target platform, with their noarch URL.
    let tz = locked(&lock, "linux-64", "tzdata");
    assert!(
        tz.url.ends_with("/synthetic/noarch/tzdata-2024a-0.tar.bz2"),
        "{}",
        tz.url
    );
    // `.conda` is preferred over `.tar.bz2` for the same build.
    assert!(
        locked(&lock, "linux-64", "libzlib")
            .url
            .ends_with("libzlib-1.3-0.conda")
    );
    assert_eq!(lock.metadata.sources, ["environment.yml"]);
    assert_eq!(lock.metadata.channels[0].url, "synthetic");
}

#[test]
fn build_strings_select_the_variant() {
    let server = synthetic();
    let p = Project::new(&env(&["synthetic"], &["blas"]));
    ok(p.resolve(&server, &["-p", "linux-64"]));
    assert_eq!(
        locked(&p.lock(), "linux-64", "blas").build.as_deref(),
        Some("mkl")
    );
    let p = Project::new(&env(&["synthetic"], &["blas=*=*openblas"]));
    ok(p.resolve(&server, &["-p", "linux-64"]));
    assert_eq!(
        locked(&p.lock(), "linux-64", "blas").build.as_deref(),
        Some("openblas")
    );
}

#[test]
fn conflicts_explain_themselves_and_keep_the_old_lock() {
    let server = synthetic();
    let p = Project::new(&env(&["synthetic"], &["conflict-a", "conflict-b"]));
    std::fs::write(p.path("conda-lock.yml"), "previous lock").unwrap();
    let err = fails(p.resolve(&server, &["-p", "linux-64"]));
    assert!(err.contains("cannot be satisfied for linux-64"), "{err}");
    for name in ["conflict-a", "conflict-b", "dep-c"] {
        assert!(err.contains(name), "{name} missing from:\n{err}");
    }
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(
        std::fs::read_to_string(p.path("conda-lock.yml")).unwrap(),
        "previous lock"
    );
    let leftovers: Vec<_> = std::fs::read_dir(p.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn unknown_packages_name_the_channels_and_platform() {
    let server = synthetic();
    let p = Project::new(&env(&["synthetic"], &["python", "nosuchpkg>=1"]));
    let err = fails(p.resolve(&server, &["-p", "linux-64"]));
    assert!(
        err.contains(&format!(
            "no package named `nosuchpkg` in {}/synthetic for linux-64",
            server.url
        )),
        "{err}"
    );
}

#[test]
fn virtual_packages_come_from_the_table_and_overrides() {
    let server = synthetic();
    let p = Project::new(&env(&["synthetic"], &["newglibc"]));
    let err = fails(p.resolve(&server, &["-p", "linux-64"]));
    assert!(err.contains("__glibc"), "{err}");
    ok(p.resolve(
        &server,
        &["-p", "linux-64", "--virtual-package", "__glibc=2.28"],
    ));
    let custom = p.lock().metadata.custom_metadata.unwrap();
    assert_eq!(
        custom["envlock.virtual_packages.linux-64"],
        "__archspec=1=x86_64,__glibc=2.28=0,__linux=4.18=0,__unix=0=0"
    );

    let p = Project::new(&env(&["synthetic"], &["cuda-app"]));
    fails(p.resolve(&server, &["-p", "linux-64"]));
    ok(p.resolve(
        &server,
        &["-p", "linux-64", "--virtual-package", "__cuda=12.4"],
    ));
    assert_sound(
        &p,
        &server,
        &["-p", "linux-64", "--virtual-package", "__cuda=12.4"],
    );
}

#[test]
fn removed_and_unhashed_records_are_never_locked() {
    let server = synthetic();
    let p = Project::new(&env(&["synthetic"], &["removedpkg", "nohash"]));
    ok(p.resolve(&server, &["-p", "linux-64"]));
    let lock = p.lock();
    assert_eq!(locked(&lock, "linux-64", "removedpkg").version, "1.0");
    assert_eq!(locked(&lock, "linux-64", "nohash").version, "1.0");
}

#[test]
fn exclude_newer_cuts_off_by_timestamp_and_keeps_untimed_records() {
    let server = synthetic();
    let p = Project::new(&env(&["synthetic"], &["timed", "untimed"]));
    ok(p.resolve(&server, &["-p", "linux-64"]));
    assert_eq!(locked(&p.lock(), "linux-64", "timed").version, "3.0");

    ok(p.resolve(
        &server,
        &["-p", "linux-64", "--exclude-newer", "2024-03-01"],
    ));
    let lock = p.lock();
    assert_eq!(locked(&lock, "linux-64", "timed").version, "2.0");
    // Records without a timestamp predate the field and stay eligible.
    assert_eq!(locked(&lock, "linux-64", "untimed").version, "1.0");
    let custom = lock.metadata.custom_metadata.unwrap();
    assert_eq!(
        custom["envlock.exclude_newer"],
        "2024-03-01T23:59:59.999999999Z"
    );

    let p = Project::new(&env(&["synthetic"], &["timed>=3"]));
    let err = fails(p.resolve(
        &server,
        &["-p", "linux-64", "--exclude-newer", "2024-03-01"],
    ));
    assert!(err.contains("timed"), "{err}");
}

#[test]
fn strict_channel_priority() {
    let server = synthetic();
    let p = Project::new(&env(&["synthetic", "second"], &["numpy", "onlysecond"]));
    ok(p.resolve(&server, &["-p", "linux-64"]));
    let lock = p.lock();
    let numpy = locked(&lock, "linux-64", "numpy");
    assert_eq!(
        numpy.version, "2.0.0",
        "the higher numpy of the lower-priority channel must lose"
    );
    assert!(numpy.url.contains("/synthetic/"), "{}", numpy.url);
    assert!(
        locked(&lock, "linux-64", "onlysecond")
            .url
            .contains("/second/")
    );
}

#[test]
fn base_url_in_repodata_decides_the_package_url() {
    let server = synthetic();
    let p = Project::new(&env(&["based"], &["relocated"]));
    ok(p.resolve(&server, &["-p", "linux-64"]));
    assert_eq!(
        locked(&p.lock(), "linux-64", "relocated").url,
        "https://files.example.com/based/linux-64/relocated-1.0-0.tar.bz2"
    );
}

#[test]
fn mirrors_are_fetched_from_but_the_lock_keeps_canonical_urls() {
    let server = synthetic();
    let canonical = "https://conda.example.invalid/synthetic";
    let p = Project::new(&env(&[canonical], &["numpy"]));
    let mirror = format!("{canonical}={}/synthetic", server.url);
    ok(p.resolve(&server, &["-p", "linux-64", "--mirror", &mirror]));
    let lock = p.lock();
    assert!(
        lock.package.iter().all(|p| p.url.starts_with(canonical)),
        "{}",
        p.lock_text()
    );
    assert!(
        server
            .hits()
            .iter()
            .any(|h| h.path.starts_with("/synthetic/linux-64/") && h.status == 200)
    );
}

#[test]
fn credentials_never_reach_the_lock_or_the_output() {
    let server = synthetic();
    let alias = server.url.replace("http://", "http://user:s3cret@");
    let p = Project::new(&env(&["synthetic"], &["numpy"]));
    let err = ok(envlock(&p.cache)
        .current_dir(p.dir.path())
        .args(["resolve", "--channel-alias", &alias, "-p", "linux-64", "-v"])
        .output()
        .unwrap());
    assert!(!err.contains("s3cret"), "{err}");
    let text = p.lock_text();
    assert!(
        !text.contains("s3cret") && !text.contains("user@"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}/synthetic/linux-64/", server.url)),
        "{text}"
    );

    let failing = Server::start(&fixture_channels(), Mode::Fail);
    let alias = failing.url.replace("http://", "http://user:s3cret@");
    let out = envlock(&p.cache)
        .current_dir(p.dir.path())
        .args(["resolve", "--channel-alias", &alias, "-p", "linux-64"])
        .output()
        .unwrap();
    let err = fails(out);
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn network_failures_retry_then_name_the_url_and_keep_the_old_lock() {
    let server = Server::start(&fixture_channels(), Mode::Fail);
    let p = Project::new(&env(&["synthetic"], &["numpy"]));
    std::fs::write(p.path("conda-lock.yml"), "previous lock").unwrap();
    let err = fails(p.resolve(&server, &["-p", "linux-64"]));
    assert!(err.contains(&format!("{}/synthetic/", server.url)), "{err}");
    assert!(err.contains("linux-64"), "{err}");
    let gets = server
        .hits()
        .iter()
        .filter(|h| h.method == "GET" && h.path.starts_with("/synthetic/linux-64/"))
        .count();
    assert!(
        gets > 1,
        "expected retries, saw {gets} GETs: {:?}",
        server.hits()
    );
    assert_eq!(
        std::fs::read_to_string(p.path("conda-lock.yml")).unwrap(),
        "previous lock"
    );
}

#[test]
fn inputs_default_to_environment_yml_and_platforms_key() {
    let server = synthetic();
    let p = Project::new(&format!(
        "{}platforms:\n  - linux-64\n",
        env(&["synthetic"], &["python"])
    ));
    let err = ok(envlock(&p.cache)
        .current_dir(p.dir.path())
        .args(["resolve", "--channel-alias", &server.url])
        .output()
        .unwrap());
    assert!(err.contains("Locked linux-64 ("), "{err}");
    assert_eq!(p.lock().metadata.platforms, ["linux-64"]);

    // --platform overrides the file's `platforms:` (synthetic has no linux-aarch64 packages).
    let err = fails(p.resolve(&server, &["-p", "linux-64", "-p", "linux-aarch64"]));
    assert!(
        err.contains("no package named `python`") && err.contains("linux-aarch64"),
        "{err}"
    );
}

#[test]
fn malformed_inputs_point_at_the_line() {
    let server = synthetic();
    let p = Project::new("channels:\n  - synthetic\ndependencies:\n  - python\n  - numpy>=>2\n");
    let err = fails(p.resolve(&server, &[]));
    assert!(err.starts_with("error: environment.yml:5:5: "), "{err}");
    assert!(!p.path("conda-lock.yml").exists());

    let p = Project::new("dependencies:\n  - python\n");
    let err = fails(p.resolve(&server, &[]));
    assert!(
        err.contains("lists no channels") && err.contains("hint:"),
        "{err}"
    );

    let p = Project::new(&env(&["synthetic"], &["python"]));
    let err = fails(p.resolve(&server, &["-p", "linux-65"]));
    assert!(err.contains("linux-65"), "{err}");
}

#[test]
fn warm_cache_only_revalidates() {
    let server = synthetic();
    let p = Project::new(&env(&["synthetic"], &["numpy"]));
    ok(p.resolve(&server, &["-p", "linux-64"]));
    let cold: usize = server.hits().iter().map(|h| h.bytes).sum();
    assert!(cold > 0);
    server.clear();
    ok(p.resolve(&server, &["-p", "linux-64"]));
    let warm = server.hits();
    let repodata_bodies: Vec<_> = warm
        .iter()
        .filter(|h| h.path.ends_with("repodata.json") && h.status == 200)
        .collect();
    assert!(
        repodata_bodies.is_empty(),
        "warm run downloaded repodata again: {warm:?}"
    );
    assert!(warm.iter().any(|h| h.status == 304), "{warm:?}");
}

// --- Real conda-forge repodata from ../shared/fixtures -------------------------------------

#[test]
fn python39_for_four_platforms_from_conda_forge() {
    let Some(channels) = shared_channels() else {
        return;
    };
    let server = Server::start(&channels, Mode::Files);
    let p = Project::new(&env(&["conda-forge-py39"], &["python=3.9", "pip"]));
    let args = [
        "-p",
        "linux-64",
        "-p",
        "linux-aarch64",
        "-p",
        "osx-arm64",
        "-p",
        "win-64",
    ];
    ok(p.resolve(&server, &args));
    let first = p.lock_text();
    let lock = p.lock();
    assert_sound(&p, &server, &args);
    assert_eq!(
        lock.metadata.platforms,
        ["linux-64", "linux-aarch64", "osx-arm64", "win-64"]
    );
    assert_eq!(versions(&lock, "linux-64").len(), 23);
    assert_eq!(versions(&lock, "osx-arm64").len(), 15);
    let python = locked(&lock, "linux-64", "python");
    assert_eq!(
        (python.version.as_str(), python.build.as_deref()),
        ("3.9.19", Some("h0755675_0_cpython"))
    );
    assert_eq!(locked(&lock, "linux-64", "pip").version, "24.0");
    assert_eq!(locked(&lock, "linux-64", "openssl").version, "3.3.0");

    // A second run, warm or cold, gives a byte-identical file.
    ok(p.resolve(&server, &args));
    assert_eq!(first, p.lock_text());
    std::fs::remove_dir_all(&p.cache).unwrap();
    ok(p.resolve(&server, &args));
    assert_eq!(first, p.lock_text());
}

#[test]
fn numpy_from_conda_forge() {
    let Some(channels) = shared_channels() else {
        return;
    };
    let server = Server::start(&channels, Mode::Files);
    let p = Project::new(&env(&["conda-forge-numpy"], &["numpy"]));
    ok(p.resolve(
        &server,
        &["-p", "linux-64", "--virtual-package", "__glibc=2.28"],
    ));
    let lock = p.lock();
    assert_sound(
        &p,
        &server,
        &["-p", "linux-64", "--virtual-package", "__glibc=2.28"],
    );
    assert_eq!(
        versions(&lock, "linux-64").len(),
        30,
        "{:#?}",
        versions(&lock, "linux-64")
    );
    assert_eq!(locked(&lock, "linux-64", "numpy").version, "1.26.4");
    assert_eq!(locked(&lock, "linux-64", "python").version, "3.12.1");
}

#[test]
fn file_channels_work_too() {
    let Some(channels) = shared_channels() else {
        return;
    };
    let p = Project::new(&env(&["conda-forge-py39"], &["python=3.9", "pip"]));
    let alias =
        url::Url::from_directory_path(Path::new(&channels).canonicalize().unwrap()).unwrap();
    ok(envlock(&p.cache)
        .current_dir(p.dir.path())
        .args([
            "resolve",
            "--channel-alias",
            alias.as_str(),
            "-p",
            "linux-64",
        ])
        .output()
        .unwrap());
    assert_eq!(versions(&p.lock(), "linux-64").len(), 23);
}

#[test]
fn zst_repodata_is_used_when_the_channel_serves_it() {
    // A channel that serves only repodata.json.zst: resolving proves the compressed file is used.
    let root = tempfile::tempdir().unwrap();
    for subdir in ["linux-64", "noarch"] {
        let json = std::fs::read(
            fixture_channels()
                .join("synthetic")
                .join(subdir)
                .join("repodata.json"),
        )
        .unwrap();
        let dir = root.path().join("zonly").join(subdir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("repodata.json.zst"),
            zstd::encode_all(&json[..], 3).unwrap(),
        )
        .unwrap();
    }
    let server = Server::start(root.path(), Mode::Files);
    let p = Project::new(&env(&["zonly"], &["numpy"]));
    ok(p.resolve(&server, &["-p", "linux-64"]));
    assert_eq!(locked(&p.lock(), "linux-64", "numpy").version, "2.0.0");
    assert!(
        server
            .hits()
            .iter()
            .any(|h| h.path == "/zonly/linux-64/repodata.json.zst"
                && h.method == "GET"
                && h.status == 200),
        "{:?}",
        server.hits()
    );
}

#[test]
fn progress_on_a_terminal_shows_platforms_and_no_credentials() {
    // `script` (util-linux) gives envlock a pseudo-terminal, so the progress bars are drawn.
    let server = synthetic();
    let alias = server.url.replace("http://", "http://user:s3cret@");
    let p = Project::new(&env(&["synthetic"], &["numpy"]));
    let bin = env!("CARGO_BIN_EXE_envlock");
    let command = format!(
        "{bin} resolve --channel-alias {alias} -p linux-64 --cache-dir {}",
        p.cache.display()
    );
    let out = std::process::Command::new("script")
        .current_dir(p.dir.path())
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(
        screen.contains("linux-64") && screen.contains("4 packages"),
        "{screen}"
    );
    assert!(!screen.contains("s3cret"), "{screen}");
}
