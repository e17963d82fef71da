//! `envlock resolve` end to end: the built binary against channels served over real HTTP on
//! 127.0.0.1, solved by the real solver, checked through the real conda-lock parser.

mod common;

use std::{path::Path, process::Command};

use common::{Mode, Project, Server, fails, fixture_channels, ok, shared_channels};
use rattler_conda_lock::{LockFile, Manager, Package};

/// A project with this `environment.yml`.
fn project(environment_yml: &str) -> Project {
    let p = Project::new();
    p.write("environment.yml", environment_yml);
    p
}

/// `envlock resolve environment.yml --channel-alias <server> ARGS...` in the project.
fn resolve(p: &Project, server: &Server, args: &[&str]) -> std::process::Output {
    resolve_cmd(p, server, args).output().unwrap()
}

fn resolve_cmd(p: &Project, server: &Server, args: &[&str]) -> Command {
    run(p, "resolve", server, args)
}

/// `envlock COMMAND environment.yml --channel-alias <server> ARGS...`.
fn run(p: &Project, command: &str, server: &Server, args: &[&str]) -> Command {
    let mut cmd = p.command(&[command, "environment.yml", "--channel-alias", &server.url]);
    cmd.args(args);
    cmd
}

/// linux-64 and noarch repodata are fetched concurrently, so which failing request is reported
/// first varies between runs.
fn filter_failing_repodata(p: &Project) {
    p.filter(
        r"/(linux-64|noarch)/repodata[A-Za-z0-9_.]*",
        "/[SUBDIR]/[REPODATA]",
    );
}

fn lock_text(p: &Project) -> String {
    p.read("conda-lock.yml")
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
    let err = ok(run(project, "check", server, args).output().unwrap());
    assert!(
        err.starts_with("Checked conda-lock.yml agrees with the inputs and the rendered files (")
            && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn locks_the_highest_versions_with_hashes() {
    let server = synthetic();
    let p = project(&env(&["synthetic"], &["numpy", "tzdata", "purepy"]));
    ok(envlock_snapshot!(
        p,
        resolve_cmd(&p, &server, &["-p", "linux-64"]),
        "locked_six_packages"
    ));
    // -v lists what was locked.
    ok(envlock_snapshot!(
        p,
        resolve_cmd(&p, &server, &["-p", "linux-64", "-v"]),
        "locked_verbose"
    ));
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
    let p = project(&env(&["synthetic"], &["blas"]));
    ok(resolve(&p, &server, &["-p", "linux-64"]));
    assert_eq!(
        locked(&p.lock(), "linux-64", "blas").build.as_deref(),
        Some("mkl")
    );
    let p = project(&env(&["synthetic"], &["blas=*=*openblas"]));
    ok(resolve(&p, &server, &["-p", "linux-64"]));
    assert_eq!(
        locked(&p.lock(), "linux-64", "blas").build.as_deref(),
        Some("openblas")
    );
}

#[test]
fn conflicts_explain_themselves_and_keep_the_old_lock() {
    let server = synthetic();
    let p = project(&env(&["synthetic"], &["conflict-a", "conflict-b"]));
    std::fs::write(p.path("conda-lock.yml"), "previous lock").unwrap();
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &server, &["-p", "linux-64"]),
        "unsatisfiable_conflict"
    ));
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
    let p = project(&env(&["synthetic"], &["python", "nosuchpkg>=1"]));
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &server, &["-p", "linux-64"]),
        "unknown_package"
    ));
    // A close name is suggested.
    p.write("environment.yml", &env(&["synthetic"], &["numpyy"]));
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &server, &["-p", "linux-64"]),
        "unknown_package_close_name"
    ));
}

#[test]
fn virtual_packages_come_from_the_table_and_overrides() {
    let server = synthetic();
    // `newglibc` needs __glibc>=2.28: the table's, but not an older one given as an override.
    let p = project(&env(&["synthetic"], &["newglibc"]));
    fails(envlock_snapshot!(
        p,
        resolve_cmd(
            &p,
            &server,
            &["-p", "linux-64", "--virtual-package", "__glibc=2.17"]
        ),
        "needs_newer_glibc"
    ));
    ok(resolve(&p, &server, &["-p", "linux-64"]));
    let custom = p.lock().metadata.custom_metadata.unwrap();
    assert_eq!(
        custom["envlock.virtual_packages.linux-64"],
        "__archspec=1=x86_64,__glibc=2.28=0,__linux=4.18=0,__unix=0=0"
    );

    let p = project(&env(&["synthetic"], &["cuda-app"]));
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &server, &["-p", "linux-64"]),
        "needs_cuda"
    ));
    ok(resolve(
        &p,
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
    let p = project(&env(&["synthetic"], &["removedpkg", "nohash"]));
    ok(resolve(&p, &server, &["-p", "linux-64"]));
    let lock = p.lock();
    assert_eq!(locked(&lock, "linux-64", "removedpkg").version, "1.0");
    assert_eq!(locked(&lock, "linux-64", "nohash").version, "1.0");
}

#[test]
fn exclude_newer_cuts_off_by_timestamp_and_keeps_untimed_records() {
    let server = synthetic();
    let p = project(&env(&["synthetic"], &["timed", "untimed"]));
    ok(resolve(&p, &server, &["-p", "linux-64"]));
    assert_eq!(locked(&p.lock(), "linux-64", "timed").version, "3.0");

    ok(resolve(
        &p,
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

    let p = project(&env(&["synthetic"], &["timed>=3"]));
    fails(envlock_snapshot!(
        p,
        resolve_cmd(
            &p,
            &server,
            &["-p", "linux-64", "--exclude-newer", "2024-03-01"]
        ),
        "excluded_by_cutoff"
    ));
}

#[test]
fn strict_channel_priority() {
    let server = synthetic();
    let p = project(&env(&["synthetic", "second"], &["numpy", "onlysecond"]));
    ok(resolve(&p, &server, &["-p", "linux-64"]));
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
    let p = project(&env(&["based"], &["relocated"]));
    ok(resolve(&p, &server, &["-p", "linux-64"]));
    assert_eq!(
        locked(&p.lock(), "linux-64", "relocated").url,
        "https://files.example.com/based/linux-64/relocated-1.0-0.tar.bz2"
    );
}

#[test]
fn mirrors_are_fetched_from_but_the_lock_keeps_canonical_urls() {
    let server = synthetic();
    let canonical = "https://conda.example.invalid/synthetic";
    let p = project(&env(&[canonical], &["numpy"]));
    let mirror = format!("{canonical}={}/synthetic", server.url);
    ok(resolve(
        &p,
        &server,
        &["-p", "linux-64", "--mirror", &mirror],
    ));
    let lock = p.lock();
    assert!(
        lock.package.iter().all(|p| p.url.starts_with(canonical)),
        "{}",
        lock_text(&p)
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
    let p = project(&env(&["synthetic"], &["numpy"]));
    let err = ok(envlock_snapshot!(
        p,
        p.command(&["resolve", "--channel-alias", &alias, "-p", "linux-64", "-v"]),
        "credentials_in_the_alias_verbose"
    ));
    assert!(!err.contains("s3cret"), "{err}");
    let text = lock_text(&p);
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
    filter_failing_repodata(&p);
    let out = envlock_snapshot!(
        p,
        p.command(&["resolve", "--channel-alias", &alias, "-p", "linux-64"]),
        "unreachable_channel_with_credentials"
    );
    let err = fails(out);
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn network_failures_retry_then_name_the_url_and_keep_the_old_lock() {
    let server = Server::start(&fixture_channels(), Mode::Fail);
    let p = project(&env(&["synthetic"], &["numpy"]));
    std::fs::write(p.path("conda-lock.yml"), "previous lock").unwrap();
    filter_failing_repodata(&p);
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &server, &["-p", "linux-64"]),
        "unreachable_channel"
    ));
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
    let p = project(&format!(
        "{}platforms:\n  - linux-64\n",
        env(&["synthetic"], &["python"])
    ));
    ok(envlock_snapshot!(
        p,
        p.command(&["resolve", "--channel-alias", &server.url]),
        "default_inputs"
    ));
    assert_eq!(p.lock().metadata.platforms, ["linux-64"]);

    // --platform overrides the file's `platforms:` (synthetic has no linux-aarch64 packages).
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &server, &["-p", "linux-64", "-p", "linux-aarch64"]),
        "platform_option_overrides_the_file"
    ));

    // No input at all.
    p.remove("environment.yml");
    fails(envlock_snapshot!(
        p,
        p.command(&["resolve", "--channel-alias", &server.url]),
        "no_input"
    ));
    fails(envlock_snapshot!(
        p,
        p.command(&["resolve", "nosuch.yml", "--channel-alias", &server.url]),
        "missing_input"
    ));
}

/// Inputs and options a user can get wrong: each is an error (exit 2) that names the file, line
/// or option, and nothing is written.
#[test]
fn malformed_inputs_and_options_are_errors_that_point_at_the_problem() {
    let server = synthetic();
    let python = env(&["synthetic"], &["python"]);
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "bad_match_spec",
            "channels:\n  - synthetic\ndependencies:\n  - python\n  - numpy>=>2\n",
            &[],
        ),
        (
            "yaml_syntax",
            "channels: [synthetic\ndependencies:\n  - python\n",
            &[],
        ),
        ("yaml_not_a_mapping", "- python\n- numpy\n", &[]),
        (
            "dependencies_not_a_list",
            "channels: [synthetic]\ndependencies:\n  python: '3.11'\n",
            &[],
        ),
        ("empty_file", "", &[]),
        (
            "spec_not_one_package",
            "channels: [synthetic]\ndependencies:\n  - python\n  - \"py*\"\n",
            &[],
        ),
        ("no_channels", "dependencies:\n  - python\n", &[]),
        (
            "platforms_key_not_a_list",
            "channels: [synthetic]\nplatforms: 3\ndependencies:\n  - python\n",
            &[],
        ),
        (
            "platforms_key_unknown_platform",
            "channels: [synthetic]\nplatforms: [linux-65]\ndependencies:\n  - python\n",
            &[],
        ),
        ("unknown_platform_option", &python, &["-p", "linux-65"]),
        ("noarch_platform_option", &python, &["-p", "noarch"]),
        (
            "virtual_package_without_underscores",
            &python,
            &["-p", "linux-64", "--virtual-package", "glibc=2.28"],
        ),
        (
            "virtual_package_without_version",
            &python,
            &["-p", "linux-64", "--virtual-package", "__glibc"],
        ),
        (
            "virtual_package_bad_version",
            &python,
            &["-p", "linux-64", "--virtual-package", "__glibc=2..28"],
        ),
        (
            "exclude_newer_not_a_date",
            &python,
            &["-p", "linux-64", "--exclude-newer", "last tuesday"],
        ),
        (
            "mirror_without_equals",
            &python,
            &[
                "-p",
                "linux-64",
                "--mirror",
                "https://user:s3cret@mirror.example.com",
            ],
        ),
        (
            "mirror_bad_url",
            &python,
            &["-p", "linux-64", "--mirror", "conda-forge=not a url"],
        ),
        (
            "update_and_update_all",
            &python,
            &["-p", "linux-64", "--update", "python", "--update-all"],
        ),
    ];
    for (name, environment_yml, args) in cases {
        let p = project(environment_yml);
        let out = envlock_snapshot!(p, resolve_cmd(&p, &server, args), *name);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(!p.path("conda-lock.yml").exists(), "{name}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("s3cret"),
            "{name}"
        );
    }
}

#[test]
fn ignored_keys_and_sections_are_warnings() {
    let server = synthetic();
    let p = project(
        "name: app\nchannels: [synthetic]\nfoo: bar\ndependencies:\n  - python\n  - conda:\n    - numpy\n",
    );
    ok(envlock_snapshot!(
        p,
        resolve_cmd(&p, &server, &["-p", "linux-64"]),
        "ignored_keys_warn"
    ));
}

#[test]
fn warm_cache_only_revalidates() {
    let server = synthetic();
    let p = project(&env(&["synthetic"], &["numpy"]));
    ok(resolve(&p, &server, &["-p", "linux-64"]));
    let cold: usize = server.hits().iter().map(|h| h.bytes).sum();
    assert!(cold > 0);
    server.clear();
    ok(resolve(&p, &server, &["-p", "linux-64"]));
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

/// A cutoff resolve (`--exclude-newer T`) takes cached repodata downloaded an hour or more after
/// `T` as it is, without a request to the channel (it lists every package such a resolve may
/// lock), unless `--refresh`; without a cutoff, or with one after the download, the channel is
/// asked again.
#[test]
fn a_cutoff_resolve_uses_repodata_downloaded_after_the_cutoff_without_asking() {
    let server = synthetic();
    let p = project(&env(&["synthetic"], &["numpy"]));
    let run = |args: &[&str]| {
        server.clear();
        ok(resolve(&p, &server, &[&["-p", "linux-64"], args].concat()));
        server.hits().len()
    };
    assert!(run(&["--exclude-newer", "2024-03-01"]) > 0, "the cold run");
    let cold = lock_text(&p);
    p.remove("conda-lock.yml");
    assert_eq!(run(&["--exclude-newer", "2024-03-01"]), 0, "the warm run");
    assert_eq!(lock_text(&p), cold, "the same lock from the cache");
    assert!(run(&["--exclude-newer", "2024-03-01", "--refresh"]) > 0);
    // A cutoff after the download (the repodata may not list a later upload), or none: asked.
    assert!(run(&["--exclude-newer", "2099-01-01", "--reset"]) > 0);
    assert!(run(&["--reset"]) > 0);
}

// --- Real conda-forge repodata from ../shared/fixtures -------------------------------------

#[test]
fn python39_for_four_platforms_from_conda_forge() {
    let Some(channels) = shared_channels() else {
        return;
    };
    let server = Server::start(&channels, Mode::Files);
    let p = project(&env(&["conda-forge-py39"], &["python=3.9", "pip"]));
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
    ok(resolve(&p, &server, &args));
    let first = lock_text(&p);
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
    ok(resolve(&p, &server, &args));
    assert_eq!(first, lock_text(&p));
    std::fs::remove_dir_all(&p.cache).unwrap();
    ok(resolve(&p, &server, &args));
    assert_eq!(first, lock_text(&p));
}

#[test]
fn numpy_from_conda_forge() {
    let Some(channels) = shared_channels() else {
        return;
    };
    let server = Server::start(&channels, Mode::Files);
    let p = project(&env(&["conda-forge-numpy"], &["numpy"]));
    ok(resolve(
        &p,
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
    let p = project(&env(&["conda-forge-py39"], &["python=3.9", "pip"]));
    let alias =
        url::Url::from_directory_path(Path::new(&channels).canonicalize().unwrap()).unwrap();
    ok(p.cmd()
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
    let p = project(&env(&["zonly"], &["numpy"]));
    ok(resolve(&p, &server, &["-p", "linux-64"]));
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
    let p = project(&env(&["synthetic"], &["numpy"]));
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
