//! `envlock resolve` with pip requirements, against a package index the tests build and serve
//! on 127.0.0.1 (real wheels and sdists, PEP 691 pages), and the `pyconda` fixture channel
//! (python 3.11.7 and pip for four platforms).

mod common;

use std::{path::Path, process::Command};

use common::{
    Mode, Project, Server, fails, fixture_channels, install_and_check, ok, pypi_index::Index,
};
use rattler_conda_lock::{LockFile, Manager};

/// A project whose index holds what `build` adds, served in `mode`.
fn project(mode: Mode, build: impl FnOnce(&mut Index)) -> Project {
    Project::new().serve_index(mode, build)
}

/// `envlock resolve FILES --index-url <local> -c pyconda --python 3.11 ARGS` in the project.
fn resolve_cmd(p: &Project, files: &[&str], args: &[&str]) -> Command {
    let channel = fixture_channels().join("pyconda");
    let mut cmd = p.command(&["resolve"]);
    cmd.args(files)
        .args(["--index-url", &p.index_url(), "-c"])
        .arg(&channel)
        .args(["--python", "3.11"])
        .args(args);
    cmd
}

fn resolve(p: &Project, files: &[&str], args: &[&str]) -> std::process::Output {
    resolve_cmd(p, files, args).output().unwrap()
}

/// `name==version` of the pip packages locked for `platform`, sorted.
fn pip_set(lock: &LockFile, platform: &str) -> Vec<String> {
    let mut v: Vec<String> = lock
        .package
        .iter()
        .filter(|p| p.manager == Manager::Pip && p.platform == platform)
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect();
    v.sort();
    v
}

fn pip_url<'a>(lock: &'a LockFile, platform: &str, name: &str) -> &'a str {
    &common::pip_package(lock, platform, name).url
}

#[test]
fn markers_and_extras_are_evaluated_per_platform() {
    let p = project(Mode::Files, |i| {
        i.wheel("app", "1.0")
            .requires(&[
                "dep-a>=1",
                "winonly; sys_platform == \"win32\"",
                "armonly; platform_machine == \"aarch64\"",
                "fastlib; extra == \"fast\"",
            ])
            .extras(&["fast"]);
        i.wheel("dep-a", "1.0");
        i.wheel("dep-a", "2.0");
        i.wheel("winonly", "1.0");
        i.wheel("armonly", "1.0");
        i.wheel("fastlib", "1.0");
    });
    p.write("requirements.txt", "app[fast]\n");
    ok(envlock_snapshot!(
        p,
        resolve_cmd(
            &p,
            &["requirements.txt"],
            &[
                "-p",
                "linux-64",
                "-p",
                "linux-aarch64",
                "-p",
                "win-64",
                "-v"
            ],
        ),
        "markers_and_extras_verbose"
    ));
    let lock = p.lock();
    assert_eq!(
        pip_set(&lock, "linux-64"),
        ["app==1.0", "dep-a==2.0", "fastlib==1.0"]
    );
    assert_eq!(
        pip_set(&lock, "linux-aarch64"),
        ["app==1.0", "armonly==1.0", "dep-a==2.0", "fastlib==1.0"]
    );
    assert_eq!(
        pip_set(&lock, "win-64"),
        ["app==1.0", "dep-a==2.0", "fastlib==1.0", "winonly==1.0"]
    );
    let app = lock.package.iter().find(|p| p.name == "app").unwrap();
    assert_eq!(app.dependencies["dep-a"], ">=1");
    // The requested extra's dependencies are recorded as the package's dependencies.
    assert_eq!(app.dependencies["fastlib"], "*");
    assert_eq!(app.hash.sha256.as_ref().map(String::len), Some(64));
    assert!(app.url.starts_with(&p.index_server().url), "{}", app.url);
    let custom = lock.metadata.custom_metadata.unwrap();
    assert_eq!(custom["envlock.pypi.indexes"], p.index_url());
}

/// As pip and uv do: an extra the chosen version does not provide is no reason to go back to
/// an old version that has it (ipython 9 dropped `[terminal]`, which jupyter-console asks for;
/// envlock backtracked into ipython 4), and a version whose published metadata does not parse
/// (ipython 4.1.0rc1's `setuptools (>=18.5decorator)`) is skipped, not fatal.
#[test]
fn a_missing_extra_is_a_warning_and_invalid_metadata_skips_only_that_version() {
    let p = project(Mode::Files, |i| {
        i.wheel("app", "1.0").requires(&["lib[gone]", "old>=1"]);
        i.wheel("lib", "1.0")
            .requires(&["extra-dep; extra == \"gone\""])
            .extras(&["gone"]);
        i.wheel("lib", "2.0").extras(&["other"]);
        i.wheel("extra-dep", "1.0");
        i.wheel("old", "1.0");
        i.wheel("old", "2.0")
            .requires(&["setuptools (>=18.5decorator)"]);
    });
    p.write("requirements.txt", "app\n");
    let out = ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert!(
        out.contains(
            "warning: lib 2.0 does not provide the extra `gone` that `lib[gone]` asks for; \
             it is locked without it"
        ),
        "{out}"
    );
    assert_eq!(
        pip_set(&p.lock(), "linux-64"),
        ["app==1.0", "lib==2.0", "old==1.0"]
    );
    // When no version is left, the invalid metadata is the reason given.
    p.write("requirements.txt", "old==2.0\n");
    let err = fails(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert!(err.contains("its metadata is invalid"), "{err}");
    assert!(
        err.contains("old-2.0-py3-none-any.whl has invalid metadata: invalid Requires-Dist `setuptools (>=18.5decorator)`"),
        "{err}"
    );
    assert!(err.contains("require another version of old"), "{err}");
}

/// uv's answer to backtracking on the wrong package (astral-sh/uv#9843): `fs` 3.0, decided
/// first through `hub`, rejects every new `ds` (each needs `fs<=2.0`), and pubgrub alone walks
/// down to `ds` 1.0, which has no bound (as localGPT's `datasets` 1.1.1 from 2020 against
/// `fsspec`). After five such rejections `ds` is decided before `fs`, and the lock has the
/// newest `ds` with `fs` 2.0, as uv's does.
#[test]
fn a_package_that_keeps_conflicting_is_decided_first_not_walked_down() {
    let p = project(Mode::Files, |i| {
        i.wheel("hub", "1.0").requires(&["fs>=1"]);
        for v in ["1.0", "2.0", "3.0"] {
            i.wheel("fs", v);
        }
        i.wheel("auto", "1.0").requires(&["ds"]);
        i.wheel("ds", "1.0");
        for v in ["2.0", "3.0", "4.0", "5.0", "6.0", "7.0"] {
            i.wheel("ds", v).requires(&["fs<=2.0"]);
        }
    });
    p.write("requirements.txt", "hub\nauto\n");
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(
        pip_set(&p.lock(), "linux-64"),
        ["auto==1.0", "ds==7.0", "fs==2.0", "hub==1.0"]
    );
    // Fewer conflicts than that keep pubgrub's own order: `fs` stays at its newest.
    let q = project(Mode::Files, |i| {
        i.wheel("hub", "1.0").requires(&["fs>=1"]);
        i.wheel("fs", "2.0");
        i.wheel("fs", "3.0");
        i.wheel("auto", "1.0").requires(&["ds"]);
        i.wheel("ds", "1.0");
        i.wheel("ds", "2.0").requires(&["fs<=2.0"]);
    });
    q.write("requirements.txt", "hub\nauto\n");
    ok(resolve(&q, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(
        pip_set(&q.lock(), "linux-64"),
        ["auto==1.0", "ds==1.0", "fs==3.0", "hub==1.0"]
    );
}

/// A requirements file that lists nothing locks python and pip alone, as pip-compile and uv
/// lock it (an environment.yml whose `pip:` section is commented out, a project not started),
/// with a warning; an environment.yml without dependencies is still an error.
#[test]
fn an_empty_requirements_file_locks_python_alone() {
    let p = project(Mode::Files, |i| {
        i.wheel("unused", "1.0");
    });
    p.write("requirements.txt", "# filled in later\n\n");
    let out = ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert!(
        out.contains("warning: requirements.txt lists no requirements"),
        "{out}"
    );
    let lock = p.lock();
    let mut names: Vec<&str> = lock.package.iter().map(|x| x.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["pip", "python", "tini"]);
    ok(p.command(&["check"]).output().unwrap());

    p.write(
        "environment.yml",
        "name: x\nchannels: [conda-forge]\ndependencies: []\n",
    );
    let err = fails(resolve(&p, &["environment.yml"], &["-p", "linux-64"]));
    assert!(
        err.contains("environment.yml lists no conda dependencies to lock"),
        "{err}"
    );
}

/// A requirements file saved as UTF-16 (PowerShell's `pip freeze > requirements.txt` writes
/// UTF-16 LE with a byte-order mark and CRLF lines), and an include in UTF-16 BE, lock as pip
/// and uv read them; `check` reads them the same way.
#[test]
fn utf16_requirements_files_lock_as_pip_reads_them() {
    let p = project(Mode::Files, |i| {
        i.wheel("flask", "3.0");
        i.wheel("flask", "3.1");
        i.wheel("six", "1.16.0");
    });
    let utf16 = |text: &str, le: bool| -> Vec<u8> {
        let bom: [u8; 2] = if le { [0xFF, 0xFE] } else { [0xFE, 0xFF] };
        bom.into_iter()
            .chain(text.encode_utf16().flat_map(
                move |u| {
                    if le { u.to_le_bytes() } else { u.to_be_bytes() }
                },
            ))
            .collect()
    };
    std::fs::write(
        p.path("requirements.txt"),
        utf16("flask==3.0\r\n-r more.txt\r\n", true),
    )
    .unwrap();
    std::fs::write(p.path("more.txt"), utf16("six==1.16.0\r\n", false)).unwrap();
    let out = ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(
        pip_set(&p.lock(), "linux-64"),
        ["flask==3.0", "six==1.16.0"],
        "{out}"
    );
    ok(p.command(&["check"]).output().unwrap());
}

/// pip is the conda env's own, so a pip pin in the requirements (a `pip freeze --all` output)
/// or a constraint on pip chooses the conda pip, instead of failing against the newest one;
/// without either, the newest pip is taken.
#[test]
fn a_pip_pin_in_the_requirements_chooses_the_conda_pip() {
    let p = Project::new()
        .serve_channel_copy("pyconda", &["linux-64", "noarch"])
        .serve_index(Mode::Files, |i| {
            i.wheel("six", "1.16.0");
        });
    p.publish("pyconda", &[("pip", "26.1.2", &["python >=3.9"])]);
    let resolve = |file: &str| {
        p.command(&["resolve", file, "--index-url", &p.index_url()])
            .args(["--channel-alias", p.channel_alias(), "-c", "pyconda"])
            .args(["--python", "3.11", "-p", "linux-64"])
            .output()
            .unwrap()
    };
    p.write("requirements.txt", "six==1.16.0\npip==24.0\n");
    let out = ok(resolve("requirements.txt"));
    assert_eq!(p.version("pip", "linux-64"), "24.0", "{out}");
    assert_eq!(pip_set(&p.lock(), "linux-64"), ["six==1.16.0"]);
    ok(p.command(&["check"]).output().unwrap());

    p.write("constraints.txt", "pip<25\n");
    p.write("requirements.txt", "-c constraints.txt\nsix\n");
    ok(resolve("requirements.txt"));
    assert_eq!(p.version("pip", "linux-64"), "24.0");

    // Without a limit (and without the old lock's preference), the newest pip.
    p.remove("conda-lock.yml");
    p.write("requirements.txt", "six\n");
    ok(resolve("requirements.txt"));
    assert_eq!(p.version("pip", "linux-64"), "26.1.2");
}

#[test]
fn the_best_wheel_for_each_platform_is_chosen() {
    let p = project(Mode::Files, |i| {
        i.wheel_tagged(
            "native",
            "1.0",
            "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
        );
        i.wheel_tagged("native", "1.0", "cp311-cp311-manylinux_2_28_aarch64");
        i.wheel_tagged("native", "1.0", "cp311-cp311-win_amd64");
        i.wheel_tagged("native", "1.0", "cp312-cp312-manylinux_2_17_x86_64");
        i.sdist("native", "1.0");
        i.wheel("native", "0.9");
    });
    p.write("requirements.txt", "native\n");
    ok(resolve(
        &p,
        &["requirements.txt"],
        &[
            "-p",
            "linux-64",
            "-p",
            "win-64",
            "-p",
            "linux-aarch64",
            "--virtual-package",
            "__glibc=2.17",
        ],
    ));
    let lock = p.lock();
    assert!(
        pip_url(&lock, "linux-64", "native")
            .ends_with("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    );
    assert!(pip_url(&lock, "win-64", "native").ends_with("cp311-cp311-win_amd64.whl"));
    // The aarch64 wheel needs glibc 2.28 but the lock is for 2.17: the sdist is used instead.
    assert!(pip_url(&lock, "linux-aarch64", "native").ends_with("native-1.0.tar.gz"));

    // With the default `__glibc=2.28` the aarch64 wheel is installable.
    ok(resolve(
        &p,
        &["requirements.txt"],
        &["-p", "linux-aarch64", "--reset"],
    ));
    assert!(pip_url(&p.lock(), "linux-aarch64", "native").ends_with("manylinux_2_28_aarch64.whl"));

    // --only-binary skips the sdist: the older pure wheel is the best that is left.
    p.write("requirements.txt", "--only-binary :all:\nnative\n");
    ok(resolve(
        &p,
        &["requirements.txt"],
        &["-p", "linux-aarch64", "--virtual-package", "__glibc=2.17"],
    ));
    assert_eq!(pip_set(&p.lock(), "linux-aarch64"), ["native==0.9"]);
}

#[test]
fn yanked_files_are_used_only_when_pinned() {
    let p = project(Mode::Files, |i| {
        i.wheel("lib", "1.0");
        i.wheel("lib", "1.1").yanked();
    });
    p.write("requirements.txt", "lib\n");
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(pip_set(&p.lock(), "linux-64"), ["lib==1.0"]);
    p.write("requirements.txt", "lib==1.1\n");
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(pip_set(&p.lock(), "linux-64"), ["lib==1.1"]);
}

#[test]
fn pre_releases_need_pre_or_an_explicit_range() {
    let p = project(Mode::Files, |i| {
        i.wheel("beta", "1.0");
        i.wheel("beta", "2.0b1");
    });
    p.write("requirements.txt", "beta\n");
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(pip_set(&p.lock(), "linux-64"), ["beta==1.0"]);
    p.write("requirements.txt", "--pre\nbeta\n");
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(pip_set(&p.lock(), "linux-64"), ["beta==2.0b1"]);
    p.write("requirements.txt", "beta>=2.0b1\n");
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(pip_set(&p.lock(), "linux-64"), ["beta==2.0b1"]);
}

#[test]
fn requires_python_and_upload_times_filter_files() {
    let p = project(Mode::Files, |i| {
        i.wheel("modern", "1.0");
        i.wheel("modern", "2.0").requires_python(">=3.12");
        i.wheel("fresh", "1.0").uploaded("2024-01-01T00:00:00Z");
        i.wheel("fresh", "1.2").uploaded("2024-06-01T00:00:00Z");
    });
    p.write("requirements.txt", "modern\nfresh\n");
    ok(resolve(
        &p,
        &["requirements.txt"],
        &["-p", "linux-64", "--exclude-newer", "2024-03-01"],
    ));
    assert_eq!(
        pip_set(&p.lock(), "linux-64"),
        ["fresh==1.0", "modern==1.0"]
    );
    // A plain re-run keeps the recorded cutoff; `--reset` drops it.
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(
        pip_set(&p.lock(), "linux-64"),
        ["fresh==1.0", "modern==1.0"]
    );
    ok(resolve(
        &p,
        &["requirements.txt"],
        &["-p", "linux-64", "--reset"],
    ));
    assert_eq!(
        pip_set(&p.lock(), "linux-64"),
        ["fresh==1.2", "modern==1.0"]
    );
}

/// Static sdist metadata is read without a build; sdists whose metadata is not static are
/// built (tests/sdist_build.rs), and these test sdists name a backend they do not install.
#[test]
fn sdists_with_static_metadata_need_no_build() {
    let p = project(Mode::Files, |i| {
        i.sdist("srconly", "1.0").requires(&["dep-a"]);
        i.wheel("dep-a", "1.0");
        i.sdist("dynamic", "1.0").dynamic();
        i.sdist("oldmeta", "1.0").metadata_version("2.1");
    });
    p.write("requirements.txt", "srconly\n");
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    let lock = p.lock();
    assert_eq!(pip_set(&lock, "linux-64"), ["dep-a==1.0", "srconly==1.0"]);
    assert!(pip_url(&lock, "linux-64", "srconly").ends_with("srconly-1.0.tar.gz"));

    // The build's python and its traceback depend on the machine; the rest is pinned.
    p.filter(r"with python\S* on PATH \([^)]*\)", "with [BUILD PYTHON]");
    p.filter(
        r"(?s)its last output:\n.*?\n  hint:",
        "its last output:\n    [BUILD OUTPUT]\n  hint:",
    );
    for name in ["dynamic", "oldmeta"] {
        p.write("requirements.txt", &format!("{name}\n"));
        fails(envlock_snapshot!(
            p,
            resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]),
            format!("sdist_{name}_metadata_build_fails")
        ));
    }
}

#[test]
fn conda_provided_packages_are_fixed_and_not_installed_again() {
    let p = project(Mode::Files, |i| {
        i.wheel("six", "1.16.0");
        i.wheel("needs-six", "1.0").requires(&["six>=1.16"]);
        i.wheel("uses-six", "1.0").requires(&["six"]);
        i.wheel("zstd", "1.5.5.1");
    });
    p.write(
        "environment.yml",
        "channels: [CHANNEL]\ndependencies:\n  - python=3.11\n  - pip\n  - six\n  - zstd\n  - pip:\n    - uses-six\n    - zstd\n"
            .replace("CHANNEL", fixture_channels().join("pyconda").to_str().unwrap())
            .as_str(),
    );
    ok(resolve(&p, &["environment.yml"], &["-p", "linux-64"]));
    // six comes from conda (it depends on python); conda's zstd is a C library, so pip
    // installs the zstd distribution.
    assert_eq!(
        pip_set(&p.lock(), "linux-64"),
        ["uses-six==1.0", "zstd==1.5.5.1"]
    );

    // A direct requirement conda does not satisfy names both sides.
    p.write("requirements.txt", "six>=1.16\n");
    fails(envlock_snapshot!(
        p,
        resolve_cmd(
            &p,
            &["environment.yml", "requirements.txt"],
            &["-p", "linux-64"]
        ),
        "conda_provided_direct_conflict"
    ));

    // So does a transitive one, through the solver's explanation.
    p.write("requirements.txt", "needs-six\n");
    fails(envlock_snapshot!(
        p,
        resolve_cmd(
            &p,
            &["environment.yml", "requirements.txt"],
            &["-p", "linux-64"]
        ),
        "conda_provided_transitive_conflict"
    ));
}

#[test]
fn nested_requirements_and_constraints() {
    let p = project(Mode::Files, |i| {
        i.wheel("dep-a", "1.0");
        i.wheel("dep-a", "2.0");
        i.wheel("top", "1.0").requires(&["dep-a"]);
    });
    std::fs::create_dir_all(p.path("reqs")).unwrap();
    p.write("reqs/base.txt", "top\n-c ../constraints.txt\n");
    p.write("constraints.txt", "dep-a<2\n");
    p.write("requirements.txt", "-r reqs/base.txt\n");
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(pip_set(&p.lock(), "linux-64"), ["dep-a==1.0", "top==1.0"]);
}

#[test]
fn index_options_in_files_and_credentials_stay_out() {
    let p = project(Mode::Files, |i| {
        i.wheel("first", "1.0");
    });
    let second = tempfile::tempdir().unwrap();
    let mut extra = Index::new(second.path());
    extra.wheel("second-only", "1.0");
    extra.wheel("first", "9.0");
    extra.write();
    let extra_server = Server::start(second.path(), Mode::Files);
    let with_user = |url: &str| url.replace("http://", "http://user:s3cret@");
    p.write(
        "requirements.txt",
        &format!(
            "--index-url {}\n--extra-index-url {}/simple/\nfirst\nsecond-only\n",
            with_user(&p.index_url()),
            with_user(&extra_server.url)
        ),
    );
    // No --index-url on the command line: the file's options apply.
    let channel = fixture_channels().join("pyconda");
    let mut cmd = p.command(&["resolve", "requirements.txt", "-p", "linux-64", "-v", "-c"]);
    cmd.arg(&channel);
    let err = ok(envlock_snapshot!(p, cmd, "index_options_in_files_verbose"));
    assert!(!err.contains("s3cret"), "{err}");
    let text = std::fs::read_to_string(p.path("conda-lock.yml")).unwrap();
    assert!(!text.contains("s3cret"), "{text}");
    // The extra index is searched first (as uv does), and the first index that has a project
    // is the only one used for it: `first` comes from the extra index, whatever the default has.
    assert_eq!(
        pip_set(&p.lock(), "linux-64"),
        ["first==9.0", "second-only==1.0"]
    );
}

#[test]
fn metadata_comes_from_metadata_files_ranges_or_downloads() {
    let build = |i: &mut Index| {
        i.wheel("plain", "1.0")
            .no_metadata_file()
            .requires(&["dep-a"]);
        i.wheel("dep-a", "1.0").no_metadata_file();
    };
    // No `.metadata` files: the wheel's tail is read with range requests.
    let p = project(Mode::Files, build);
    p.write("requirements.txt", "plain\n");
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(pip_set(&p.lock(), "linux-64"), ["dep-a==1.0", "plain==1.0"]);
    assert!(
        p.index_server().hits().iter().any(|h| h.status == 206),
        "{:?}",
        p.index_server().hits()
    );

    // A server that ignores ranges: the wheel is downloaded whole (and hash-checked).
    let p = project(Mode::NoRanges, build);
    p.write("requirements.txt", "plain\n");
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(pip_set(&p.lock(), "linux-64"), ["dep-a==1.0", "plain==1.0"]);

    // With `.metadata` files, wheels are not touched at all.
    let p = project(Mode::Files, |i| {
        i.wheel("plain", "1.0").requires(&["dep-a"]);
        i.wheel("dep-a", "1.0");
    });
    p.write("requirements.txt", "plain\n");
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    let hits = p.index_server().hits();
    assert!(
        hits.iter().any(|h| h.path.ends_with(".whl.metadata")),
        "{hits:?}"
    );
    assert!(!hits.iter().any(|h| h.path.ends_with(".whl")), "{hits:?}");

    // A warm re-resolve reads metadata from the cache.
    p.index_server().clear();
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert!(
        !p.index_server()
            .hits()
            .iter()
            .any(|h| h.path.contains(".whl")),
        "{:?}",
        p.index_server().hits()
    );
}

/// A page fetched well after the `--exclude-newer` cutoff lists every file a resolve with that
/// cutoff may use: a warm re-resolve asks the index nothing (the index here, like many mirrors,
/// sends no cache headers), unless `--refresh`; without a cutoff, or with one later than the
/// fetch, pages are revalidated.
#[test]
fn a_cutoff_resolve_uses_pages_fetched_after_the_cutoff_without_asking() {
    let p = project(Mode::Files, |i| {
        i.wheel("app", "1.0").requires(&["dep>=1"]);
        i.wheel("dep", "1.0");
    });
    p.write("requirements.txt", "app\n");
    let pages = |p: &Project| {
        p.index_server()
            .hits()
            .iter()
            .filter(|h| h.path.starts_with("/simple/"))
            .count()
    };
    let run = |args: &[&str]| {
        p.index_server().clear();
        ok(resolve(
            &p,
            &["requirements.txt"],
            &[&["-p", "linux-64"], args].concat(),
        ));
        pages(&p)
    };
    assert_eq!(run(&["--exclude-newer", "2024-06-01"]), 2, "the cold run");
    assert_eq!(run(&["--exclude-newer", "2024-06-01"]), 0, "the warm run");
    assert_eq!(
        p.lock().package.len(),
        5,
        "python, pip, app, dep, and the tini added for the image's init"
    );
    assert_eq!(run(&["--exclude-newer", "2024-06-01", "--refresh"]), 2);
    // A cutoff after the fetch (the page may not list a later upload yet), or none: revalidated.
    assert_eq!(run(&["--exclude-newer", "2099-01-01", "--reset"]), 2);
    assert_eq!(run(&["--reset"]), 2);
}

/// `--offline`: a warm resolve succeeds without a single request to the channel or the index;
/// a requirement the cache lacks is an error naming what is missing.
#[test]
fn offline_resolves_from_the_cache_and_names_what_it_lacks() {
    let p = project(Mode::Files, |i| {
        i.wheel("app", "1.0").requires(&["dep>=1"]);
        i.wheel("dep", "1.0");
        i.wheel("other", "1.0");
    })
    .serve_channel_copy("pyconda", &["linux-64", "noarch"]);
    p.write("requirements.txt", "app\n");
    let run = |offline: bool| {
        let mut cmd = p.command(&["resolve", "requirements.txt", "-p", "linux-64"]);
        cmd.args(["--index-url", &p.index_url(), "-c", "pyconda"])
            .args(["--channel-alias", p.channel_alias(), "--python", "3.11"]);
        if offline {
            cmd.arg("--offline");
        }
        cmd.output().unwrap()
    };
    ok(run(false));
    let before = p.lock();
    p.remove("conda-lock.yml");
    p.index_server().clear();
    let channel = p.channels.as_ref().unwrap();
    channel.clear();
    ok(run(true));
    assert!(channel.hits().is_empty(), "{:?}", channel.hits());
    assert!(
        p.index_server().hits().is_empty(),
        "{:?}",
        p.index_server().hits()
    );
    assert_eq!(pip_set(&p.lock(), "linux-64"), pip_set(&before, "linux-64"));
    assert_eq!(p.lock().package.len(), before.package.len());

    p.write("requirements.txt", "app\nother\n");
    let err = fails(run(true));
    assert!(
        err.contains("/simple/other/ is not in the cache, and --offline forbids fetching it"),
        "{err}"
    );
    assert!(
        err.contains("run the resolve once without --offline"),
        "{err}"
    );
    assert!(p.index_server().hits().is_empty());

    // With an empty cache the channel's repodata is what is missing.
    let mut cmd = p.command(&["resolve", "requirements.txt", "-p", "linux-64", "--offline"]);
    cmd.args(["-c", "pyconda", "--channel-alias", p.channel_alias()])
        .arg("--cache-dir")
        .arg(p.path("empty-cache"));
    let err = fails(cmd.output().unwrap());
    assert!(err.contains("no usable repodata cache"), "{err}");
    assert!(err.contains("--offline uses only cached repodata"), "{err}");
    assert!(channel.hits().is_empty(), "{:?}", channel.hits());
}

/// TLS is set up on the first request, not at start: a resolve that sends none works without a
/// certificate store (the store is read by every TLS set-up, for nothing); one that sends a
/// request says that the store is what failed.
#[test]
fn a_resolve_that_sends_no_request_needs_no_certificate_store() {
    let p = project(Mode::Files, |i| {
        i.wheel("app", "1.0");
    })
    .serve_channel_copy("pyconda", &["linux-64", "noarch"]);
    p.write("requirements.txt", "app\n");
    let run = |offline: bool, no_store: bool| {
        let mut cmd = p.command(&["resolve", "requirements.txt", "-p", "linux-64"]);
        cmd.args(["--index-url", &p.index_url(), "-c", "pyconda"])
            .args(["--channel-alias", p.channel_alias(), "--python", "3.11"]);
        if offline {
            cmd.arg("--offline");
        }
        if no_store {
            let missing = p.path("no-such-certificates");
            cmd.env("SSL_CERT_FILE", &missing)
                .env("SSL_CERT_DIR", &missing);
        }
        cmd.output().unwrap()
    };
    ok(run(false, false));
    p.remove("conda-lock.yml");
    ok(run(true, true));
    let mut names: Vec<String> = p
        .lock()
        .package
        .iter()
        .map(|p| p.name.to_string())
        .collect();
    names.sort();
    // The tini `resolve` adds for the image's init is a conda package too.
    assert_eq!(names, ["app", "pip", "python", "tini"]);
    let err = fails(run(false, true));
    assert!(
        err.contains("could not set up the HTTP client (TLS certificate store)"),
        "{err}"
    );
}

#[test]
fn unsatisfiable_requirements_explain_and_keep_the_old_lock() {
    let p = project(Mode::Files, |i| {
        i.wheel("old-app", "1.0").requires(&["dep-a<1"]);
        i.wheel("dep-a", "0.5");
        i.wheel("dep-a", "2.0");
    });
    p.write("requirements.txt", "old-app\ndep-a>=2\n");
    p.write("conda-lock.yml", "previous lock");
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]),
        "unsatisfiable_requirements"
    ));
    assert_eq!(
        std::fs::read_to_string(p.path("conda-lock.yml")).unwrap(),
        "previous lock"
    );
}

#[test]
fn unknown_projects_suggest_close_names() {
    let p = project(Mode::Files, |i| {
        i.wheel("requests", "2.0");
    });
    p.write("requirements.txt", "requestz\n");
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]),
        "unknown_project_close_name"
    ));
    p.write("requirements.txt", "zzzzzz\n");
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]),
        "unknown_project"
    ));
}

#[test]
fn unlockable_requirements_are_rejected_with_the_line() {
    let p = project(Mode::Files, |_| {});
    let sha = "a".repeat(64);
    let hash_alone = format!("flask\n--hash=sha256:{sha}\n");
    for (name, line) in [
        ("editable", "-e ./mypkg"),
        ("vcs_url", "svn+https://example.com/x#egg=x"),
        ("vcs_direct_reference", "pkg @ hg+https://example.com/x"),
        ("local_path", "./local/pkg"),
        ("unknown_option", "--frobnicate"),
        ("ambiguous_option", "--no x"),
        ("per_requirement_option", "flask --upgrade"),
        ("option_without_value", "--index-url"),
        ("index_url_not_a_url", "--index-url not-a-url"),
        ("hash_md5", "flask --hash=md5:abc"),
        (
            "hash_not_hex",
            &format!("flask --hash=sha256:{}", "g".repeat(64)),
        ),
        ("hash_too_short", "flask --hash=sha256:abc"),
        ("hash_without_requirement", &hash_alone),
        ("single_equals", "flask=3.0"),
        (
            "url_to_an_index_page",
            "pkg @ https://example.com/simple/pkg/",
        ),
        ("ftp_url", "pkg @ ftp://example.com/pkg-1.0.tar.gz"),
        ("missing_include", "-r nosuch.txt"),
        (
            "remote_include",
            "-r https://user:s3cret@example.com/req.txt",
        ),
    ] {
        // A comment first, so the line number is not 1.
        p.write("requirements.txt", &format!("# comment\n{line}\n"));
        let out = envlock_snapshot!(
            p,
            resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]),
            format!("requirements_{name}")
        );
        let err = fails(out);
        assert!(!err.contains("s3cret"), "{name}: {err}");
    }
    // Includes that form a cycle.
    p.write("requirements.txt", "-r reqs/a.txt\n");
    p.write("reqs/a.txt", "flask\n-r b.txt\n");
    p.write("reqs/b.txt", "-r a.txt\n");
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]),
        "requirements_include_cycle"
    ));
    // A file that is not text.
    std::fs::write(p.path("requirements.txt"), b"flask\xff\xfe\n").unwrap();
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]),
        "requirements_not_utf8"
    ));
    // A bad --python.
    p.write("requirements.txt", "flask\n");
    let mut cmd = p.command(&["resolve", "requirements.txt", "--python", "3..11", "-c"]);
    cmd.arg(fixture_channels().join("pyconda")).args([
        "--index-url",
        &p.index_url(),
        "-p",
        "linux-64",
    ]);
    fails(envlock_snapshot!(p, cmd, "python_not_a_version"));
}

#[test]
fn locked_pip_sets_install_for_real_with_hashes() {
    let p = project(Mode::Files, |i| {
        i.wheel("app", "1.0")
            .requires(&["dep-a>=1", "winonly; sys_platform == \"win32\""]);
        i.wheel("dep-a", "1.0");
        i.wheel("winonly", "1.0");
    });
    p.write("requirements.txt", "app\n");
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    install_and_check(&p.lock(), "linux-64", p.dir.path(), &[]);
}

fn file_sha256(path: &Path) -> String {
    hex::encode(
        rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(
            std::fs::read(path).unwrap(),
        ),
    )
}

#[test]
fn hash_options_on_requirements_are_respected() {
    let p = project(Mode::Files, |i| {
        i.wheel("lib", "1.0");
        i.wheel("lib", "1.1");
    });
    let old = file_sha256(&p.path("index/files/lib-1.0-py3-none-any.whl"));
    p.write("requirements.txt", &format!("lib --hash=sha256:{old}\n"));
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    let lock = p.lock();
    assert_eq!(pip_set(&lock, "linux-64"), ["lib==1.0"]);
    let locked = lock.package.iter().find(|p| p.name == "lib").unwrap();
    assert_eq!(locked.hash.sha256.as_deref(), Some(old.as_str()));

    p.write(
        "requirements.txt",
        &format!("lib --hash=sha256:{}\n", "0".repeat(64)),
    );
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]),
        "hash_matches_no_file"
    ));
}

#[test]
fn direct_url_requirements_lock_that_file() {
    let p = project(Mode::Files, |i| {
        i.wheel("lib", "1.0").requires(&["dep-a"]);
        i.wheel("lib", "3.0");
        i.wheel("dep-a", "1.0");
    });
    let url = format!("{}/files/lib-1.0-py3-none-any.whl", p.index_server().url);
    p.write("requirements.txt", &format!("lib @ {url}\n"));
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    let lock = p.lock();
    assert_eq!(pip_set(&lock, "linux-64"), ["dep-a==1.0", "lib==1.0"]);
    assert_eq!(pip_url(&lock, "linux-64", "lib"), url);
    let sha = file_sha256(&p.path("index/files/lib-1.0-py3-none-any.whl"));
    let locked = lock.package.iter().find(|p| p.name == "lib").unwrap();
    assert_eq!(locked.hash.sha256.as_deref(), Some(sha.as_str()));
    install_and_check(&lock, "linux-64", p.dir.path(), &[]);
}

/// pip's format control: a package named in `--no-binary`/`--only-binary` wins over `:all:` in
/// the other list (`FormatControl.get_allowed_formats`), as in pip and uv.
#[test]
fn a_package_named_in_one_binary_list_wins_over_all_in_the_other() {
    let p = project(Mode::Files, |i| {
        i.wheel("foo", "1.0");
        i.sdist("foo", "1.0");
        i.sdist("srconly", "1.0");
        i.wheel("bar", "1.0");
        i.sdist("bar", "1.0");
    });
    let locked_file = |name: &str| {
        let lock = p.lock();
        let url = pip_url(&lock, "linux-64", name);
        url.rsplit('/').next().unwrap().to_string()
    };

    // (a) `--only-binary :all:` + `--no-binary foo`: foo's sdist, bar's wheel.
    p.write(
        "requirements.txt",
        "--only-binary :all:\n--no-binary foo\nfoo\nbar\n",
    );
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(locked_file("foo"), "foo-1.0.tar.gz");
    assert_eq!(locked_file("bar"), "bar-1.0-py3-none-any.whl");
    // Also when the sdist is all there is.
    p.write(
        "requirements.txt",
        "--only-binary :all:\n--no-binary srconly\nsrconly\n",
    );
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(locked_file("srconly"), "srconly-1.0.tar.gz");

    // (b) The reverse: `--no-binary :all:` + `--only-binary foo`: foo's wheel, bar's sdist.
    p.write(
        "requirements.txt",
        "--no-binary :all:\n--only-binary foo\nfoo\nbar\n",
    );
    ok(resolve(&p, &["requirements.txt"], &["-p", "linux-64"]));
    assert_eq!(locked_file("foo"), "foo-1.0-py3-none-any.whl");
    assert_eq!(locked_file("bar"), "bar-1.0.tar.gz");
}

#[test]
fn only_binary_without_a_wheel_names_the_package_and_the_option() {
    let p = project(Mode::Files, |i| {
        i.sdist("srconly", "1.0");
    });
    p.write("requirements.txt", "--only-binary :all:\nsrconly\n");
    p.write("conda-lock.yml", "previous lock");
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]),
        "only_binary_without_a_wheel"
    ));
    assert_eq!(
        std::fs::read_to_string(p.path("conda-lock.yml")).unwrap(),
        "previous lock"
    );
}

#[test]
fn index_mapping_and_conda_interplay_errors() {
    // An index that answers 500 to everything.
    let p = project(Mode::Fail, |i| {
        i.wheel("lib", "1.0");
    });
    p.write("requirements.txt", "lib\n");
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]),
        "unreachable_index"
    ));

    let p = project(Mode::Files, |i| {
        i.wheel("lib", "1.0");
    });
    // A direct URL that is no distribution file.
    p.write(
        "requirements.txt",
        &format!("lib @ {}/files/README.txt\n", p.index_server().url),
    );
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]),
        "direct_url_not_a_distribution"
    ));
    // --hash values that cannot be checked against the index.
    p.write(
        "requirements.txt",
        &format!("lib --hash=sha512:{}\n", "a".repeat(128)),
    );
    fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]),
        "hash_not_sha256"
    ));
    // A mapping file that is not JSON, and one with a name PyPI cannot have.
    p.write("requirements.txt", "lib\n");
    for (name, mapping) in [
        ("mapping_not_json", "{\"six\": \n"),
        ("mapping_bad_name", "{\"six\": \"not a name!\"}\n"),
    ] {
        p.write("mapping.json", mapping);
        fails(envlock_snapshot!(
            p,
            resolve_cmd(
                &p,
                &["requirements.txt"],
                &["-p", "linux-64", "--pypi-mapping", "mapping.json"]
            ),
            name
        ));
    }
    // A constraint that excludes what the conda solve installs.
    p.write(
        "environment.yml",
        &format!(
            "channels: [{}]\ndependencies:\n  - python=3.11\n  - pip\n  - six\n",
            fixture_channels().join("pyconda").display()
        ),
    );
    p.write("requirements.txt", "-c constraints.txt\nlib\n");
    p.write("constraints.txt", "six<1.10\n");
    fails(envlock_snapshot!(
        p,
        resolve_cmd(
            &p,
            &["environment.yml", "requirements.txt"],
            &["-p", "linux-64"]
        ),
        "constraint_excludes_conda_package"
    ));
}

/// Extra indexes come first, as in uv: a project an extra index has is taken from there only
/// (PyTorch's index over PyPI), a project it lacks comes from the default index, and local
/// versions lock from an HTML index that percent-encodes the `+` (as PyTorch's does).
#[test]
fn extra_indexes_come_first_and_local_versions_lock() {
    let p = project(Mode::Files, |i| {
        i.wheel("torchish", "2.5.1");
        i.wheel("other", "1.0");
    });
    // The extra index: an HTML (PEP 503) page whose link encodes `+` as `%2B`.
    let extra = p.path("extra");
    let mut index = Index::new(&extra);
    index.wheel("torchish", "2.5.1+cpu");
    index.write();
    let file = "torchish-2.5.1+cpu-py3-none-any.whl";
    let sha = file_sha256(&extra.join("files").join(file));
    let page = extra.join("simple/torchish");
    std::fs::remove_file(page.join("index.json")).unwrap();
    std::fs::write(
        page.join("index.html"),
        format!(
            "<!DOCTYPE html><html><body>\n<a href=\"../../files/{}#sha256={sha}\">{file}</a>\n</body></html>\n",
            file.replace('+', "%2B")
        ),
    )
    .unwrap();
    let server = Server::start(&extra, Mode::Files);
    let extra_url = format!("{}/simple/", server.url);
    let with_extra = ["-p", "linux-64", "--extra-index-url", &extra_url];
    p.write("requirements.txt", "torchish\nother\n");
    ok(resolve(&p, &["requirements.txt"], &with_extra));
    let lock = p.lock();
    assert_eq!(
        pip_set(&lock, "linux-64"),
        ["other==1.0", "torchish==2.5.1+cpu"]
    );
    assert_eq!(
        pip_url(&lock, "linux-64", "torchish"),
        format!("{}/files/torchish-2.5.1%2Bcpu-py3-none-any.whl", server.url)
    );
    assert_eq!(
        pip_url(&lock, "linux-64", "other"),
        format!("{}/files/other-1.0-py3-none-any.whl", p.index_server().url)
    );

    // A pin without the local label takes the local build, as pip does (PEP 440 ignores a
    // candidate's `+cpu` unless the specifier has one): `torch==2.5.1` with PyTorch's index.
    p.write("requirements.txt", "torchish==2.5.1\nother\n");
    ok(resolve(&p, &["requirements.txt"], &with_extra));
    assert_eq!(
        pip_set(&p.lock(), "linux-64"),
        ["other==1.0", "torchish==2.5.1+cpu"]
    );

    // An extra index that cannot be reached is an error naming it, not a silent fallback.
    p.filter(r"127\.0\.0\.1:1/", "[CLOSED PORT]/");
    fails(envlock_snapshot!(
        p,
        resolve_cmd(
            &p,
            &["requirements.txt"],
            &[
                "-p",
                "linux-64",
                "--extra-index-url",
                "http://127.0.0.1:1/simple/"
            ]
        ),
        "unreachable_extra_index"
    ));
}

#[test]
fn index_strategy_first_index_by_default_unsafe_best_match_recorded_and_checked() {
    // The default index has `shared` 1.0 and 2.0; the extra index a lower 1.5 and 1.0 (a
    // different file), and `extra-only`.
    let p = project(Mode::Files, |i| {
        i.wheel("shared", "1.0");
        i.wheel("shared", "2.0");
    });
    let extra = tempfile::tempdir().unwrap();
    let mut index = Index::new(extra.path());
    index.wheel("shared", "1.0").requires(&["extra-only"]);
    index.wheel("shared", "1.5");
    index.wheel("extra-only", "1.0");
    index.write();
    let server = Server::start(extra.path(), Mode::Files);
    let extra_url = format!("{}/simple/", server.url);
    p.write("requirements.txt", "shared\n");

    // first-index: the extra index has `shared`, so PyPI's higher version is never a candidate.
    let mut cmd = resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]);
    cmd.env(
        "ENVLOCK_EXTRA_INDEX_URL",
        format!("http://127.0.0.1:1/unused/ {extra_url}"),
    );
    // Both URLs of the variable are indexes: the closed port is an error naming it.
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = resolve_cmd(&p, &["requirements.txt"], &["-p", "linux-64"]);
    cmd.env("ENVLOCK_EXTRA_INDEX_URL", &extra_url);
    ok(cmd.output().unwrap());
    assert_eq!(pip_set(&p.lock(), "linux-64"), ["shared==1.5"]);
    assert!(!p.read("conda-lock.yml").contains("index_strategy"));

    // unsafe-best-match: the best version of any index wins, and is recorded.
    ok(resolve(
        &p,
        &["requirements.txt"],
        &[
            "-p",
            "linux-64",
            "--extra-index-url",
            &extra_url,
            "--index-strategy",
            "unsafe-best-match",
        ],
    ));
    assert_eq!(pip_set(&p.lock(), "linux-64"), ["shared==2.0"]);
    assert!(
        p.read("conda-lock.yml")
            .contains("envlock.pypi.index_strategy: unsafe-best-match"),
        "{}",
        p.read("conda-lock.yml")
    );
    // A version both indexes have comes from the first index searched (the extra one): pinning
    // 1.0 takes the extra index's file, with its dependency.
    p.write("requirements.txt", "shared==1.0\n");
    let out = resolve(&p, &["requirements.txt"], &["-p", "linux-64"]);
    let err = ok(out);
    assert!(err.contains("--index-strategy unsafe-best-match"), "{err}");
    assert_eq!(
        pip_set(&p.lock(), "linux-64"),
        ["extra-only==1.0", "shared==1.0"]
    );
    assert!(pip_url(&p.lock(), "linux-64", "shared").starts_with(&server.url));

    // `check` takes the recorded strategy; a flag that differs is drift.
    let channel = fixture_channels().join("pyconda");
    let check = |args: &[&str]| {
        let mut cmd = p.command(&["check", "requirements.txt", "-c"]);
        cmd.arg(&channel).args(["--python", "3.11"]).args(args);
        cmd.output().unwrap()
    };
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = check(&["--index-strategy", "first-index"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--index-strategy is unsafe-best-match in the lock but first-index now"),
        "{out:?}"
    );
}
