//! Why a pip requirement cannot be locked, one case per cause (no wheel for the target's
//! Python, platform or glibc; `Requires-Python`; `--exclude-newer`; yanked; `--only-binary`
//! with only an sdist), `--prefer-binary`, and requirements that do not apply to any locked
//! platform; against package indexes the tests build and serve on 127.0.0.1, with the
//! `pyconda` fixture channel (python 3.11.7 for four platforms).

mod common;

use std::process::Command;

use common::{Mode, Project, fails, fixture_channels, ok, pypi_index::Index};
use rattler_conda_lock::Manager;

fn project(build: impl FnOnce(&mut Index)) -> Project {
    Project::new().serve_index(Mode::Files, build)
}

/// `envlock resolve requirements.txt --index-url <local> -c pyconda --python 3.11 ARGS`.
fn resolve_cmd(p: &Project, args: &[&str]) -> Command {
    run_cmd(p, "resolve", args)
}

/// `envlock COMMAND requirements.txt` with the options of [`resolve_cmd`].
fn run_cmd(p: &Project, command: &str, args: &[&str]) -> Command {
    let mut cmd = p.command(&[command, "requirements.txt"]);
    cmd.args(["--index-url", &p.index_url(), "-c"])
        .arg(fixture_channels().join("pyconda"))
        .args(["--python", "3.11"])
        .args(args);
    cmd
}

/// `name==version` of the pip packages locked for `platform`, sorted.
fn pip_set(p: &Project, platform: &str) -> Vec<String> {
    let mut v: Vec<String> = p
        .lock()
        .package
        .iter()
        .filter(|x| x.manager == Manager::Pip && x.platform == platform)
        .map(|x| format!("{}=={}", x.name, x.version))
        .collect();
    v.sort();
    v
}

/// `requirements` cannot be locked for linux-64 with `args`: the snapshot `name` holds what the
/// user reads, and the previous lock is left alone.
fn unsatisfiable(p: &Project, requirements: &str, args: &[&str], name: &str) -> String {
    p.write("requirements.txt", requirements);
    p.write("conda-lock.yml", "previous lock");
    let mut all = vec!["-p", "linux-64"];
    all.extend(args);
    let stderr = fails(envlock_snapshot!(p, resolve_cmd(p, &all), name));
    assert_eq!(p.read("conda-lock.yml"), "previous lock");
    stderr
}

#[test]
fn wheels_only_for_another_python() {
    let p = project(|i| {
        for v in ["1.0", "2.0"] {
            i.wheel_tagged("fastmath", v, "cp312-cp312-manylinux_2_17_x86_64");
            i.wheel_tagged("fastmath", v, "cp313-cp313-manylinux_2_17_x86_64");
        }
    });
    let stderr = unsatisfiable(&p, "fastmath\n", &[], "reason_python_tag");
    assert!(stderr.contains("requirements.txt:1:1"), "{stderr}");
    assert!(stderr.contains("only cp312, cp313 wheels"), "{stderr}");
}

#[test]
fn wheels_that_need_a_newer_glibc() {
    let p = project(|i| {
        i.wheel_tagged("newlib", "1.0", "cp311-cp311-manylinux_2_34_x86_64");
        i.wheel_tagged("newlib", "1.0", "cp311-cp311-manylinux_2_28_x86_64");
    });
    // The hint names the glibc the oldest wheel needs, against the target's own glibc.
    let stderr = unsatisfiable(
        &p,
        "newlib\n",
        &["--virtual-package", "__glibc=2.17"],
        "reason_glibc",
    );
    assert!(
        stderr.contains("need manylinux_2_28 (glibc 2.28), and linux-64 has glibc 2.17"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--virtual-package __glibc=2.28"),
        "{stderr}"
    );
    // With that glibc, it locks.
    ok(
        resolve_cmd(&p, &["-p", "linux-64", "--virtual-package", "__glibc=2.28"])
            .output()
            .unwrap(),
    );
    assert_eq!(pip_set(&p, "linux-64"), ["newlib==1.0"]);
}

#[test]
fn wheels_only_for_another_platform() {
    let p = project(|i| {
        i.wheel_tagged("winhelper", "1.0", "cp311-cp311-win_amd64");
        i.wheel("app", "1.0").requires(&["winhelper"]);
    });
    // A dependency's reasons are given too, and the root requirement that pulled it in.
    let stderr = unsatisfiable(&p, "app\n", &[], "reason_platform_tag");
    assert!(stderr.contains("only win_amd64 wheels"), "{stderr}");
}

#[test]
fn requires_python_excludes_the_target() {
    let p = project(|i| {
        i.wheel("future", "1.0").requires_python(">=3.13");
    });
    let stderr = unsatisfiable(&p, "future\n", &[], "reason_requires_python");
    assert!(stderr.contains("requires Python >=3.13"), "{stderr}");
}

#[test]
fn uploaded_after_the_cutoff() {
    let p = project(|i| {
        i.wheel("fresh", "1.0").uploaded("2025-06-01T00:00:00Z");
    });
    let stderr = unsatisfiable(
        &p,
        "fresh\n",
        &["--exclude-newer", "2025-01-01"],
        "reason_exclude_newer",
    );
    assert!(
        stderr.contains("after the `--exclude-newer` cutoff"),
        "{stderr}"
    );
}

#[test]
fn yanked_and_grouped_with_other_reasons() {
    let p = project(|i| {
        i.wheel("mixed", "1.0").yanked();
        i.wheel_tagged("mixed", "2.0", "cp312-cp312-manylinux_2_17_x86_64");
        i.wheel_tagged("mixed", "2.1", "cp312-cp312-manylinux_2_17_x86_64");
    });
    let stderr = unsatisfiable(&p, "mixed\n", &[], "reason_yanked_and_grouped");
    assert!(
        stderr.contains("`mixed` 2.0, 2.1: only cp312 wheels"),
        "{stderr}"
    );
    assert!(stderr.contains("`mixed` 1.0: yanked"), "{stderr}");
    // Pinned with `==`, the yanked version is used (PEP 592).
    p.write("requirements.txt", "mixed==1.0\n");
    ok(resolve_cmd(&p, &["-p", "linux-64"]).output().unwrap());
    assert_eq!(pip_set(&p, "linux-64"), ["mixed==1.0"]);
}

/// Two lines that no version satisfies together (an included file's pin against the
/// including file's, a constraint against a requirement) are named both, before any solve.
#[test]
fn requirements_that_exclude_each_other_are_named_both() {
    let p = project(|i| {
        i.wheel("dburl", "0.4.1");
        i.wheel("dburl", "2.1.0");
    });
    p.write("base.txt", "dburl==2.1.0\n");
    let stderr = unsatisfiable(
        &p,
        "-r base.txt\n# for the deployment\ndburl==0.4.1\n",
        &[],
        "reason_requirements_contradict",
    );
    assert!(
        stderr.contains("base.txt:1:1") && stderr.contains("requirements.txt:3:1"),
        "{stderr}"
    );
    p.write("constraints.txt", "dburl<1\n");
    let stderr = unsatisfiable(
        &p,
        "-c constraints.txt\ndburl>=2\n",
        &[],
        "reason_constraint_contradicts",
    );
    assert!(
        stderr.contains("the constraint `dburl<1` (constraints.txt:1:1)"),
        "{stderr}"
    );
    let stderr = unsatisfiable(&p, "dburl>3,<2\n", &[], "reason_requirement_allows_nothing");
    assert!(stderr.contains("requirements.txt:1:1"), "{stderr}");
    // Three lines, no two of which exclude each other.
    let stderr = unsatisfiable(
        &p,
        "dburl!=2.1.0\ndburl>=2.1.0\ndburl<=2.1.0\n",
        &[],
        "reason_requirements_contradict_together",
    );
    assert!(stderr.contains("allowed by all of"), "{stderr}");
    // A constraint on a package nothing requires is no contradiction.
    p.write(
        "requirements.txt",
        "-c constraints.txt\ndburl>=2; sys_platform == 'win32'\n",
    );
    ok(resolve_cmd(&p, &["-p", "linux-64"]).output().unwrap());
}

#[test]
fn a_requirement_left_out_by_its_marker_is_named() {
    let p = project(|i| {
        i.wheel("lib", "1.0");
        i.wheel("app", "1.0").requires(&["lib>=2"]);
    });
    let stderr = unsatisfiable(
        &p,
        "app\nlib>=2; sys_platform == \"win32\"\n",
        &[],
        "reason_marker_false",
    );
    assert!(stderr.contains("requirements.txt:2:1"), "{stderr}");
}

#[test]
fn prefer_binary_takes_an_older_wheel_over_a_newer_sdist() {
    let p = project(|i| {
        i.wheel_tagged("native", "1.0", "cp311-cp311-manylinux_2_17_x86_64");
        i.sdist("native", "1.0");
        i.sdist("native", "2.0");
        i.wheel("other", "1.0");
        i.sdist("other", "2.0");
        i.wheel("other", "2.0");
    });
    // Without it, the newest version wins, sdist or not.
    p.write("requirements.txt", "native\nother\n");
    ok(resolve_cmd(&p, &["-p", "linux-64"]).output().unwrap());
    assert_eq!(pip_set(&p, "linux-64"), ["native==2.0", "other==2.0"]);
    // With it, the newest version with a wheel for the target; one with a wheel stays newest.
    p.write("requirements.txt", "--prefer-binary\nnative\nother\n");
    ok(resolve_cmd(&p, &["-p", "linux-64"]).output().unwrap());
    assert_eq!(pip_set(&p, "linux-64"), ["native==1.0", "other==2.0"]);
    let lock = p.lock();
    let native = lock.package.iter().find(|x| x.name == "native").unwrap();
    assert!(
        native
            .url
            .ends_with("native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
        "{}",
        native.url
    );
    // `--only-binary` is unchanged: only wheels, whatever the order.
    p.write(
        "requirements.txt",
        "--prefer-binary\n--only-binary :all:\nnative==2.0\n",
    );
    p.write("conda-lock.yml", "previous lock");
    fails(resolve_cmd(&p, &["-p", "linux-64"]).output().unwrap());
}

#[test]
fn a_requirement_whose_marker_is_false_everywhere_is_not_locked() {
    let p = project(|i| {
        i.wheel("lib", "1.0");
        i.wheel_tagged("pywin32", "306", "cp311-cp311-win_amd64");
    });
    p.write(
        "requirements.txt",
        "lib\npywin32; sys_platform == \"win32\"\n",
    );
    let platforms = ["-p", "linux-64", "-p", "osx-arm64"];
    ok(resolve_cmd(&p, &platforms).output().unwrap());
    assert_eq!(pip_set(&p, "linux-64"), ["lib==1.0"]);
    assert_eq!(pip_set(&p, "osx-arm64"), ["lib==1.0"]);
    ok(run_cmd(&p, "check", &platforms).output().unwrap());
}

#[test]
fn pip_command_lines_and_options_say_what_to_write_instead() {
    let p = project(|i| {
        i.wheel("lib", "1.0");
    });
    // A `pip install` command pasted into the file: the line is the mistake, not its option.
    p.write("requirements.txt", "lib\npip install --no-deps pywin32\n");
    let stderr = fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["-p", "linux-64"]),
        "pip_command_line"
    ));
    assert!(stderr.contains("requirements.txt:2:1"), "{stderr}");
    assert!(stderr.contains("(`pywin32`)"), "{stderr}");
    // `--no-deps` on a line of its own: pip takes it only on its command line.
    p.write("requirements.txt", "lib\n--no-deps\n");
    let stderr = fails(envlock_snapshot!(
        p,
        resolve_cmd(&p, &["-p", "linux-64"]),
        "no_deps_option"
    ));
    assert!(
        stderr.contains("`--no-deps` is an option of the `pip install` command line"),
        "{stderr}"
    );
}
