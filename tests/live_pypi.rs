//! Live tests against pypi.org (reachable here and in CI), pinned in time with
//! `--exclude-newer` so the expected versions stay stable. Each locked linux-64 pip set is
//! installed for real: `pip install --no-deps --require-hashes` into a fresh venv of this
//! machine's python 3.11 (the `pyconda` fixture channel's python is 3.11.7), then `pip check`.

mod common;

use std::path::Path;

use common::{envlock, fixture_channels, install_and_check, ok};
use rattler_conda_lock::{LockFile, Manager};

const CUTOFF: &str = "2024-06-01";

fn lock_requirements(dir: &Path, files: &[&str], platforms: &[&str]) -> LockFile {
    lock_for(dir, files, "3.11", CUTOFF, platforms).0
}

/// `envlock resolve FILES -c pyconda --python PYTHON --exclude-newer CUTOFF -p …` with every
/// other option at its default: the lock and what `resolve` printed.
fn lock_for(
    dir: &Path,
    files: &[&str],
    python: &str,
    cutoff: &str,
    platforms: &[&str],
) -> (LockFile, String) {
    let mut cmd = envlock(&dir.join("cache"));
    cmd.current_dir(dir).arg("resolve").args(files);
    cmd.arg("-c").arg(fixture_channels().join("pyconda"));
    cmd.args(["--python", python, "--exclude-newer", cutoff]);
    for p in platforms {
        cmd.args(["-p", p]);
    }
    let out = ok(cmd.output().unwrap());
    (
        envlock::lock::read(&dir.join("conda-lock.yml")).unwrap(),
        out,
    )
}

/// The URL locked for `name` on `platform`.
fn url<'a>(lock: &'a LockFile, platform: &str, name: &str) -> &'a str {
    &common::pip_package(lock, platform, name).url
}

fn version<'a>(lock: &'a LockFile, platform: &str, name: &str) -> &'a str {
    &common::pip_package(lock, platform, name).version
}

fn pip_names(lock: &LockFile, platform: &str) -> Vec<String> {
    let mut v: Vec<String> = lock
        .package
        .iter()
        .filter(|p| p.manager == Manager::Pip && p.platform == platform && p.category == "main")
        .map(|p| p.name.clone())
        .collect();
    v.sort();
    v
}

#[test]
fn flask_redis_gunicorn_app() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("requirements.txt"),
        "flask==3.0.3\nredis>=5,<6\ngunicorn\n",
    )
    .unwrap();
    let lock = lock_requirements(
        dir.path(),
        &["requirements.txt"],
        &["linux-64", "linux-aarch64", "osx-arm64", "win-64"],
    );
    assert_eq!(version(&lock, "linux-64", "flask"), "3.0.3");
    assert_eq!(version(&lock, "linux-64", "werkzeug"), "3.0.3");
    assert_eq!(version(&lock, "linux-64", "redis"), "5.0.4");
    assert_eq!(version(&lock, "linux-64", "gunicorn"), "22.0.0");
    // click needs colorama on Windows only; redis needs async-timeout only before 3.11.3.
    assert!(pip_names(&lock, "win-64").contains(&"colorama".to_string()));
    assert!(!pip_names(&lock, "linux-64").contains(&"colorama".to_string()));
    assert!(!pip_names(&lock, "linux-64").contains(&"async-timeout".to_string()));
    install_and_check(&lock, "linux-64", dir.path(), &[]);
}

#[test]
fn jupyter_stack() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "jupyterlab==4.2.1\n").unwrap();
    let lock = lock_requirements(
        dir.path(),
        &["requirements.txt"],
        &["linux-64", "osx-arm64"],
    );
    let names = pip_names(&lock, "linux-64");
    assert_eq!(names.len(), 89, "{names:?}");
    assert_eq!(version(&lock, "linux-64", "typing-extensions"), "4.12.1");
    for native in ["pyzmq", "tornado", "debugpy", "psutil"] {
        assert!(names.contains(&native.to_string()), "{native} missing");
    }
    // Native wheels are chosen per platform.
    let url = |platform: &str| {
        lock.package
            .iter()
            .find(|p| p.platform == platform && p.name == "pyzmq")
            .unwrap()
            .url
            .clone()
    };
    assert!(url("linux-64").contains("manylinux"), "{}", url("linux-64"));
    assert!(url("osx-arm64").contains("macosx"), "{}", url("osx-arm64"));
    install_and_check(&lock, "linux-64", dir.path(), &[]);
}

#[test]
fn numpy_pandas_scikit_learn_stack() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("requirements.txt"),
        "numpy<2\npandas\nscikit-learn\n",
    )
    .unwrap();
    let lock = lock_requirements(
        dir.path(),
        &["requirements.txt"],
        &["linux-64", "linux-aarch64"],
    );
    assert_eq!(version(&lock, "linux-64", "numpy"), "1.26.4");
    assert_eq!(version(&lock, "linux-64", "pandas"), "2.2.2");
    assert_eq!(version(&lock, "linux-64", "scikit-learn"), "1.5.0");
    assert_eq!(
        pip_names(&lock, "linux-64"),
        [
            "joblib",
            "numpy",
            "pandas",
            "python-dateutil",
            "pytz",
            "scikit-learn",
            "scipy",
            "six",
            "threadpoolctl",
            "tzdata"
        ]
    );
    install_and_check(&lock, "linux-64", dir.path(), &[]);
}

#[test]
fn environment_yml_with_a_pip_section() {
    let dir = tempfile::tempdir().unwrap();
    let channel = fixture_channels().join("pyconda");
    std::fs::write(
        dir.path().join("environment.yml"),
        format!(
            "channels:\n  - {}\ndependencies:\n  - python=3.11\n  - pip\n  - six\n  - pip:\n    - requests==2.32.3\n    - rich>=13\n    - python-dateutil\n",
            channel.display()
        ),
    )
    .unwrap();
    let lock = lock_requirements(dir.path(), &["environment.yml"], &["linux-64"]);
    assert_eq!(version(&lock, "linux-64", "requests"), "2.32.3");
    // six comes from conda (1.10.0), so python-dateutil must accept it and pip must not install it.
    assert!(!pip_names(&lock, "linux-64").contains(&"six".to_string()));
    assert!(
        lock.package
            .iter()
            .any(|p| p.manager == Manager::Conda && p.name == "six")
    );
    assert!(version(&lock, "linux-64", "rich").starts_with("13."));
    // six 1.10.0 stands in for the conda package pip sees as installed.
    install_and_check(&lock, "linux-64", dir.path(), &["six==1.10.0"]);
}

#[test]
fn sdists_lock_their_build_set_and_install_from_it_with_hashes() {
    // retrying 1.3.3 and antlr4-python3-runtime 4.9.3 have only sdists (no static metadata);
    // the lock pins what building them needs, and they install with every hash checked.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("requirements.txt"),
        "retrying==1.3.3\nantlr4-python3-runtime==4.9.3\n",
    )
    .unwrap();
    let lock = lock_requirements(dir.path(), &["requirements.txt"], &["linux-64"]);
    assert_eq!(
        pip_names(&lock, "linux-64"),
        ["antlr4-python3-runtime", "retrying", "six"]
    );
    let build: Vec<&str> = lock
        .package
        .iter()
        .filter(|p| p.category == "build" && p.platform == "linux-64")
        .map(|p| p.name.as_str())
        .collect();
    assert!(build.contains(&"setuptools"), "{build:?}");
    assert!(
        lock.package
            .iter()
            .filter(|p| p.category == "build")
            .all(|p| p.optional && p.hash.sha256.is_some() && p.url.ends_with(".whl"))
    );
    assert_eq!(
        envlock::render::built_sdists(&lock, "linux-64"),
        ["antlr4-python3-runtime".to_string(), "retrying".to_string()].into()
    );
    install_and_check(&lock, "linux-64", dir.path(), &[]);
}

/// The seed Jupyter image's environment with the defaults of 2026: the glibc 2.28 target picks
/// the manylinux_2_28 wheels of pyzmq 27 and argon2-cffi-bindings 25 (with a glibc 2.17 target
/// their sdists were locked, and the image build died on a missing compiler).
#[test]
fn jupyterlab_for_python_3_11_locks_wheels_with_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "jupyterlab\n").unwrap();
    let (lock, out) = lock_for(
        dir.path(),
        &["requirements.txt"],
        "3.11",
        "2026-06-01",
        &["linux-64"],
    );
    assert!(!out.contains("from its sdist"), "{out}");
    for native in [
        "pyzmq",
        "argon2-cffi-bindings",
        "tornado",
        "psutil",
        "debugpy",
    ] {
        let url = url(&lock, "linux-64", native);
        assert!(url.ends_with(".whl"), "{native}: {url}");
    }
    assert!(envlock::render::built_sdists(&lock, "linux-64").is_empty());
    install_and_check(&lock, "linux-64", dir.path(), &[]);
}

/// `ipython[all]`: ipython 9 no longer provides the `terminal` extra that jupyter-console asks
/// for. envlock used to treat that as a conflict and backtrack into ipython 4.1.0rc1 (whose
/// metadata does not even parse) and fail after a minute; as with pip and uv, it now locks
/// ipython 9 with a warning. The 208 packages are the same as uv 0.13.9 locks for this target.
#[test]
fn ipython_all_with_jupyterlab_notebook_ipywidgets_for_python_3_12() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("requirements.txt"),
        "ipython[all]\njupyterlab\nnotebook\nipywidgets\n",
    )
    .unwrap();
    let (lock, out) = lock_for(
        dir.path(),
        &["requirements.txt"],
        "3.12",
        "2026-06-01",
        &["linux-64"],
    );
    assert!(
        out.contains("warning: ipython 9.14.0 does not provide the extra `terminal`"),
        "{out}"
    );
    assert_eq!(version(&lock, "linux-64", "ipython"), "9.14.0");
    assert_eq!(version(&lock, "linux-64", "jupyterlab"), "4.5.7");
    assert_eq!(pip_names(&lock, "linux-64").len(), 208);
    // The one sdist (curio 1.6, pure Python) is built in the image from its hashed build set.
    assert_eq!(
        envlock::render::built_sdists(&lock, "linux-64"),
        ["curio".to_string()].into()
    );
}
