//! A private package index behind HTTP basic auth, as companies run them: credentials from a
//! netrc file or from the index URL's userinfo reach the index (pages, metadata, downloads) and
//! never the lock, the cache or a message.

mod common;

use std::path::Path;

use common::{Mode, Project, fails, fixture_channels, ok};

fn private_index() -> Project {
    let p = Project::new().serve_index(Mode::BasicAuth, |index| {
        index.wheel("six", "1.16.0");
        index.wheel("private-lib", "2.0.0").requires(&["six>=1.10"]);
    });
    p.write("requirements.txt", "private-lib\n");
    p
}

fn resolve(p: &Project, index_url: &str, netrc: Option<&Path>) -> std::process::Output {
    let mut cmd = p.command(&[
        "resolve",
        "requirements.txt",
        "--index-url",
        index_url,
        "-c",
    ]);
    cmd.arg(fixture_channels().join("pyconda"))
        .args(["--python", "3.11", "-p", "linux-64"]);
    match netrc {
        Some(file) => cmd.env("NETRC", file),
        None => cmd
            .env("NETRC", p.path("no-netrc"))
            .env("HOME", p.path("home")),
    };
    cmd.output().unwrap()
}

/// Every file under `dir`, read as text where it is text.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in common::files_under(dir) {
        if let Ok(text) = std::fs::read(&entry) {
            out.push_str(&String::from_utf8_lossy(&text));
        }
    }
    out
}

fn assert_no_secret(p: &Project, messages: &str) {
    let lock = p.read("conda-lock.yml");
    for secret in ["s3cret", "alice"] {
        assert!(!lock.contains(secret), "lock has {secret}:\n{lock}");
        assert!(
            !messages.contains(secret),
            "message has {secret}:\n{messages}"
        );
        assert!(
            !all_text(&p.cache).contains(secret),
            "the cache holds {secret}"
        );
    }
}

#[test]
fn without_credentials_the_index_refuses_and_the_error_says_so() {
    let p = private_index();
    let err = fails(resolve(&p, &p.index_url(), None));
    assert!(
        err.contains(&format!(
            "{}private-lib/ answered 401 Unauthorized",
            p.index_url()
        )),
        "{err}"
    );
    assert!(err.contains("hint: the index wants credentials: add `machine 127.0.0.1 login USER password PASSWORD` to ~/.netrc"), "{err}");
}

#[test]
fn netrc_credentials_reach_the_index_and_nothing_else() {
    let p = private_index();
    let host = "127.0.0.1";
    p.write(
        "netrc",
        &format!("machine {host}\n  login alice\n  password s3cret\n"),
    );
    let err = ok(resolve(&p, &p.index_url(), Some(&p.path("netrc"))));
    let lock = p.lock();
    let mut pins: Vec<String> = lock
        .package
        .iter()
        .filter(|x| x.manager == rattler_conda_lock::Manager::Pip)
        .map(|x| format!("{}=={}", x.name, x.version))
        .collect();
    pins.sort();
    assert_eq!(pins, ["private-lib==2.0.0", "six==1.16.0"]);
    assert_no_secret(&p, &err);
    // A netrc for another host is not used for this one.
    let q = private_index();
    q.write(
        "netrc",
        "machine index.example login alice password s3cret\n",
    );
    let err = fails(resolve(&q, &q.index_url(), Some(&q.path("netrc"))));
    assert!(err.contains("401"), "{err}");
}

#[test]
fn userinfo_in_the_index_url_also_authenticates_downloads_from_that_host() {
    let p = private_index();
    let url = p.index_url().replace("http://", "http://alice:s3cret@");
    let err = ok(resolve(&p, &url, None));
    assert_no_secret(&p, &err);
    ok(p.run(&[
        "check",
        "requirements.txt",
        "-c",
        fixture_channels().join("pyconda").to_str().unwrap(),
        "--python",
        "3.11",
        "-p",
        "linux-64",
        "--index-url",
        &url,
    ]));
}

#[test]
fn an_unparsable_netrc_is_reported_by_line_without_its_content() {
    let p = private_index();
    p.write(
        "netrc",
        "machine 127.0.0.1 login alice password s3cret\nbogus s3cret\n",
    );
    let out = resolve(&p, &p.index_url(), Some(&p.path("netrc")));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let warning = format!(
        "warning: {}:2: not a valid netrc file; its credentials are not used\n",
        p.path("netrc").display()
    );
    assert!(err.starts_with(&warning), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}
