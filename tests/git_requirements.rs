//! Git requirements: `name @ git+URL@ref` locked as the commit the ref names, with the sha256 of
//! the archive envlock makes of it; `envlock dockerfile` puts that archive into `envlock/git/`
//! and the image installs it with `--hash`, without git. The repositories are local (`git+file`),
//! made by the tests with the real git; the dependencies come from an index on 127.0.0.1, the
//! python from the `pyconda` fixture channel.

mod common;

use std::{path::Path, process::Command};

use common::{Mode, Project, fails, fixture_channels, ok};
use rattler_conda_lock::{LockFile, Manager, Package};

const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

const STATIC_PYPROJECT: &str = r#"[project]
name = "demo-git"
version = "0.2.0"
dependencies = ["requests>=2"]

[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]
"#;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository holding the project in `subdir` (`""` for the top), tagged `v0.2.0`.
fn repository(subdir: &str, pyproject: &str, value: &str) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    git(repo.path(), &["config", "user.email", "t@example.com"]);
    git(repo.path(), &["config", "user.name", "t"]);
    let root = repo.path().join(subdir);
    std::fs::create_dir_all(root.join("demo_git")).unwrap();
    std::fs::write(root.join("pyproject.toml"), pyproject).unwrap();
    std::fs::write(
        root.join("backend.py"),
        common::in_tree_backend("demo_git", "demo-git", "0.2.0", &["requests>=2"]),
    )
    .unwrap();
    std::fs::write(
        root.join("demo_git/__init__.py"),
        format!("VALUE = {value:?}\n"),
    )
    .unwrap();
    std::fs::write(repo.path().join("README.md"), "a repository\n").unwrap();
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "first"]);
    git(repo.path(), &["tag", "v0.2.0"]);
    repo
}

fn project() -> Project {
    Project::new().serve_index(Mode::Files, |i| {
        i.wheel("requests", "2.0");
        i.wheel("six", "1.16.0");
    })
}

fn resolve(p: &Project, args: &[&str]) -> std::process::Output {
    let channel = fixture_channels().join("pyconda");
    p.command(&[
        "resolve",
        "requirements.txt",
        "--index-url",
        &p.index_url(),
        "-c",
    ])
    .arg(&channel)
    .args(["-p", "linux-64"])
    .args(args)
    .output()
    .unwrap()
}

fn git_package(lock: &LockFile) -> Package {
    lock.package
        .iter()
        .find(|p| p.manager == Manager::Pip && p.name == "demo-git" && p.platform == "linux-64")
        .cloned()
        .unwrap_or_else(|| panic!("demo-git is not locked"))
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(bytes))
}

fn check_code(p: &Project) -> Option<i32> {
    p.command(&["check", "requirements.txt"])
        .output()
        .unwrap()
        .status
        .code()
}

#[test]
fn a_git_requirement_locks_the_commit_and_the_image_installs_its_archive_with_the_hash() {
    let repo = repository("", STATIC_PYPROJECT, "from git");
    let url = format!("git+file://{}", repo.path().display());
    let p = project();
    p.write("requirements.txt", &format!("demo-git @ {url}@v0.2.0\n"));
    ok(resolve(&p, &[]));
    let lock = p.lock();
    let commit = git(repo.path(), &["rev-parse", "v0.2.0"]);
    let package = git_package(&lock);
    assert_eq!(package.version, "0.2.0");
    // The commit is the pin; the sha256 is the archive's, never the commit's.
    assert_eq!(package.url, format!("{url}@{commit}"));
    let archive_sha = package.hash.sha256.clone().unwrap();
    assert_eq!(archive_sha.len(), 64);
    assert!(package.dependencies.contains_key("requests"), "{package:?}");
    assert!(
        lock.package.iter().any(|p| p.name == "requests"),
        "the dependency of the git project is locked"
    );
    let custom = lock.metadata.custom_metadata.clone().unwrap();
    assert_eq!(
        custom["envlock.pypi.git"],
        format!("{{\"demo-git\":\"{url}@v0.2.0\"}}")
    );
    ok(p.command(&["check", "requirements.txt"]).output().unwrap());

    // The Dockerfile's files: the archive, and the line that installs it with its hash.
    let base = format!("--base=python:3.12-slim@{DIGEST}");
    ok(p.command(&["dockerfile", "--flavor", "venv", &base])
        .output()
        .unwrap());
    let file = format!("envlock/git/demo-git-{}.tar", &commit[..12]);
    assert_eq!(sha256(&std::fs::read(p.path(&file)).unwrap()), archive_sha);
    let line = format!(
        "demo-git @ file:///opt/envlock/git/demo-git-{}.tar --hash=sha256:{archive_sha}",
        &commit[..12]
    );
    let lists: Vec<String> = std::fs::read_dir(p.path("envlock"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("pip-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    let list = lists
        .iter()
        .find(|t| t.contains(&line))
        .unwrap_or_else(|| panic!("no list installs {line}: {lists:?}"));
    assert!(
        !p.read("Dockerfile").contains("git "),
        "the image needs no git"
    );
    ok(p.command(&["check", "requirements.txt"]).output().unwrap());

    // pip installs the archive with --require-hashes, as the image does.
    let work = tempfile::tempdir().unwrap();
    let venv = work.path().join("venv");
    assert!(
        Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap()
            .success()
    );
    let here = list.replace(
        "file:///opt/envlock/",
        &format!("file://{}/", p.path("envlock").display()),
    );
    let requests = lock
        .package
        .iter()
        .find(|p| p.name == "requests" && p.platform == "linux-64")
        .unwrap();
    let requirements = work.path().join("requirements.txt");
    std::fs::write(
        &requirements,
        format!(
            "{here}requests @ {} --hash=sha256:{}\n",
            requests.url,
            requests.hash.sha256.as_ref().unwrap()
        ),
    )
    .unwrap();
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--require-hashes",
        ])
        .args(["--no-build-isolation", "-r"])
        .arg(&requirements)
        .env_remove("PIP_FIND_LINKS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", "import demo_git; print(demo_git.VALUE)"])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "from git");

    // A changed archive in envlock/ is drift; `dockerfile` makes it again, also without the
    // cache's copy (from the cached clone).
    std::fs::write(p.path(&file), b"tampered").unwrap();
    assert_eq!(check_code(&p), Some(1));
    let archives = p.cache.join("pypi/git/archives");
    std::fs::remove_dir_all(&archives).unwrap();
    ok(p.command(&["dockerfile"]).output().unwrap());
    assert_eq!(sha256(&std::fs::read(p.path(&file)).unwrap()), archive_sha);
    assert_eq!(check_code(&p), Some(0));

    // The tag moves: `check` (no network) still passes; `resolve` locks the new commit, and
    // `dockerfile` replaces the old archive.
    std::fs::write(
        repo.path().join("demo_git/__init__.py"),
        "VALUE = 'moved'\n",
    )
    .unwrap();
    git(repo.path(), &["commit", "-qam", "second"]);
    git(repo.path(), &["tag", "-f", "v0.2.0"]);
    let moved = git(repo.path(), &["rev-parse", "v0.2.0"]);
    assert_eq!(check_code(&p), Some(0));
    ok(resolve(&p, &[]));
    assert_eq!(git_package(&p.lock()).url, format!("{url}@{moved}"));
    assert_eq!(check_code(&p), Some(1), "the rendered files are stale");
    ok(p.command(&["dockerfile"]).output().unwrap());
    assert!(
        p.path(&format!("envlock/git/demo-git-{}.tar", &moved[..12]))
            .is_file()
    );
    assert!(
        !p.path(&file).exists(),
        "the old commit's archive is removed"
    );
    assert_eq!(check_code(&p), Some(0));

    // Another ref in the input is drift.
    p.write("requirements.txt", &format!("demo-git @ {url}@main\n"));
    assert_eq!(check_code(&p), Some(1));
}

#[test]
fn subdirectories_eggs_and_built_metadata() {
    // Dependencies the backend computes: the metadata comes from the PEP 517 hook (here
    // build_wheel), run in the archive of the commit.
    let dynamic = STATIC_PYPROJECT.replace(
        "dependencies = [\"requests>=2\"]",
        "dynamic = [\"dependencies\"]",
    );
    let repo = repository("libs/demo", &dynamic, "in a subdirectory");
    let url = format!("git+file://{}", repo.path().display());
    let p = project();
    p.write(
        "requirements.txt",
        &format!("-e {url}@v0.2.0#egg=demo-git&subdirectory=libs/demo\nsix\n"),
    );
    ok(resolve(&p, &[]));
    let lock = p.lock();
    let commit = git(repo.path(), &["rev-parse", "v0.2.0"]);
    let package = git_package(&lock);
    assert_eq!(
        package.url,
        format!("{url}@{commit}#subdirectory=libs/demo")
    );
    assert!(package.dependencies.contains_key("requests"), "{package:?}");
    ok(p.command(&["check", "requirements.txt"]).output().unwrap());
    // A warm re-resolve gives the same lock.
    let before = p.read("conda-lock.yml");
    ok(resolve(&p, &[]));
    assert_eq!(p.read("conda-lock.yml"), before);

    // The archive holds the subdirectory alone, under one top directory.
    ok(p.command(&[
        "dockerfile",
        &format!("--base=python:3.12-slim@{DIGEST}"),
        "--flavor",
        "venv",
    ])
    .output()
    .unwrap());
    let bytes =
        std::fs::read(p.path(&format!("envlock/git/demo-git-{}.tar", &commit[..12]))).unwrap();
    let mut names: Vec<String> = tar::Archive::new(bytes.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let top = format!("source-{}", &commit[..12]);
    assert!(
        names.contains(&format!("{top}/pyproject.toml")),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.ends_with("README.md")), "{names:?}");
}

#[test]
fn unreachable_repositories_and_unknown_refs_are_errors_without_credentials() {
    let repo = repository("", STATIC_PYPROJECT, "x");
    let p = project();
    p.write(
        "requirements.txt",
        &format!(
            "demo-git @ git+file://{}@no-such-tag\n",
            repo.path().display()
        ),
    );
    let err = fails(resolve(&p, &[]));
    assert!(
        err.contains("no-such-tag names no branch, tag or commit"),
        "{err}"
    );

    // The project at the URL is another one than the requirement names.
    p.write(
        "requirements.txt",
        &format!("other @ git+file://{}@v0.2.0\n", repo.path().display()),
    );
    let err = fails(resolve(&p, &[]));
    assert!(err.contains("is the project demo-git, not other"), "{err}");
    assert!(err.contains("name it `demo-git @ git+file://"), "{err}");

    // A closed port, with a password in the URL: it is named, never shown.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    p.write(
        "requirements.txt",
        &format!("demo-git @ git+http://user:s3cret@127.0.0.1:{port}/repo.git@v1\n"),
    );
    let err = fails(resolve(&p, &[]));
    assert!(
        err.contains(&format!("could not fetch http://127.0.0.1:{port}/repo.git")),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    assert!(!p.path("conda-lock.yml").exists());
}

/// A server on 127.0.0.1 for the bare repositories in `root`, stopped when dropped.
struct GitServer {
    child: std::process::Child,
    port: u16,
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for the port a server wrote to `file`.
fn port_from(file: &Path, child: &mut std::process::Child) -> u16 {
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Ok(port) = text.trim().parse()
        {
            return port;
        }
        assert!(child.try_wait().unwrap().is_none(), "the git server exited");
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("the git server did not start");
}

/// `git http-backend` behind HTTP basic auth `user:s3cret` (tests/data/git/http_backend.py).
fn http_server(root: &Path) -> GitServer {
    let port_file = root.join("port");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/git/http_backend.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(root)
        .arg(&port_file)
        .args(["user", "s3cret"])
        .spawn()
        .unwrap();
    let port = port_from(&port_file, &mut child);
    GitServer { child, port }
}

/// `git daemon` serving `root` over the git protocol.
fn git_daemon(root: &Path) -> GitServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // git-daemon itself, not `git daemon`: the wrapper would leave it running when killed.
    let exec_path = git(root, &["--exec-path"]);
    let child = Command::new(Path::new(&exec_path).join("git-daemon"))
        .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", root.display()))
        .arg(root)
        .spawn()
        .unwrap();
    // Killed and waited for on drop, also when it does not start.
    let server = GitServer { child, port };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("git daemon did not start");
}

/// A bare clone of `repo` as `<root>/repo.git`.
fn bare(repo: &Path, root: &Path) -> std::path::PathBuf {
    let target = root.join("repo.git");
    let out = Command::new("git")
        .args(["clone", "-q", "--bare"])
        .arg(repo)
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target
}

/// Every file under `dir`, for "is this secret written anywhere".
fn contains_anywhere(dir: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn over_http_with_credentials_the_password_reaches_git_and_nothing_else_and_check_sees_a_moved_branch()
 {
    let repo = repository("", STATIC_PYPROJECT, "over http");
    let served = tempfile::tempdir().unwrap();
    let origin = bare(repo.path(), served.path());
    let server = http_server(served.path());
    let port = server.port;
    let p = project();
    p.write(
        "requirements.txt",
        &format!("demo-git @ git+http://user:s3cret@127.0.0.1:{port}/repo.git@main\n"),
    );
    ok(resolve(&p, &[]));
    let commit = git(&origin, &["rev-parse", "main"]);
    assert_eq!(
        git_package(&p.lock()).url,
        format!("git+http://127.0.0.1:{port}/repo.git@{commit}")
    );
    ok(p.command(&[
        "dockerfile",
        &format!("--base=python:3.12-slim@{DIGEST}"),
        "--flavor",
        "venv",
    ])
    .output()
    .unwrap());
    // The password is in requirements.txt and nowhere else: not the lock, the rendered files,
    // the cache (the clone's config and FETCH_HEAD included).
    let leaks: Vec<_> = contains_anywhere(p.dir.path(), b"s3cret")
        .into_iter()
        .filter(|f| !f.ends_with("requirements.txt"))
        .collect();
    assert!(leaks.is_empty(), "the password is written to {leaks:?}");

    // `check` stays offline; `check --git-refs` asks the remote and sees the branch move.
    let check = |args: &[&str]| {
        p.command(&[&["check", "requirements.txt"], args].concat())
            .output()
            .unwrap()
    };
    assert_eq!(check(&["--git-refs"]).status.code(), Some(0));
    std::fs::write(repo.path().join("README.md"), "changed\n").unwrap();
    git(repo.path(), &["commit", "-qam", "moved"]);
    git(
        repo.path(),
        &["push", "-q", origin.to_str().unwrap(), "main"],
    );
    assert_eq!(check(&[]).status.code(), Some(0));
    let out = check(&["--git-refs", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding = &report["findings"][0];
    assert_eq!(finding["kind"], "moved-ref", "{report}");
    let moved = git(&origin, &["rev-parse", "main"]);
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("now names commit {}", &moved[..12])),
        "{message}"
    );
    assert!(message.contains(&commit[..12]), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    ok(resolve(&p, &[]));
    assert_eq!(
        check(&["--git-refs"]).status.code(),
        Some(1),
        "the archive is stale now"
    );
    ok(p.command(&["dockerfile"]).output().unwrap());
    assert_eq!(check(&["--git-refs"]).status.code(), Some(0));

    // A wrong password is named as a failed fetch, without the password.
    p.write(
        "requirements.txt",
        &format!("demo-git @ git+http://user:wrong-s3cret@127.0.0.1:{port}/repo.git@main\n"),
    );
    std::fs::remove_dir_all(&p.cache).unwrap();
    let err = fails(resolve(&p, &["--reset"]));
    assert!(
        err.contains(&format!("could not fetch http://127.0.0.1:{port}/repo.git")),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn over_the_git_protocol_a_tag_locks() {
    let repo = repository("", STATIC_PYPROJECT, "over git://");
    let served = tempfile::tempdir().unwrap();
    let origin = bare(repo.path(), served.path());
    let daemon = git_daemon(served.path());
    let p = project();
    p.write(
        "requirements.txt",
        &format!(
            "demo-git @ git+git://127.0.0.1:{}/repo.git@v0.2.0\n",
            daemon.port
        ),
    );
    ok(resolve(&p, &[]));
    let commit = git(&origin, &["rev-parse", "v0.2.0^{commit}"]);
    assert_eq!(
        git_package(&p.lock()).url,
        format!("git+git://127.0.0.1:{}/repo.git@{commit}", daemon.port)
    );
    assert_eq!(check_code(&p), Some(0));
}

/// A forge's branch archive (`…/archive/main.zip`: no version in its name, one top directory)
/// of a project with static metadata, served by the project's index server.
fn branch_archive(p: &Project, value: &str) -> String {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default();
        let pyproject = STATIC_PYPROJECT
            .replace("name = \"demo-git\"", "name = \"demo-zip\"")
            .replace("version = \"0.2.0\"", "version = \"1.5\"");
        let backend = common::in_tree_backend("demo_git", "demo-zip", "1.5", &["requests>=2"]);
        for (path, text) in [
            ("demo-main/pyproject.toml", pyproject.as_str()),
            ("demo-main/backend.py", backend.as_str()),
            ("demo-main/demo_git/__init__.py", value),
        ] {
            z.start_file(path, options).unwrap();
            std::io::Write::write_all(&mut z, text.as_bytes()).unwrap();
        }
        z.finish().unwrap();
    }
    let path = p.path("index/org/demo/archive/main.zip");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, buf.into_inner()).unwrap();
    format!("{}/org/demo/archive/main.zip", p.index_server().url)
}

#[test]
fn bare_urls_take_their_name_from_the_metadata() {
    let p = project();
    let url = branch_archive(&p, "VALUE = 1\n");
    // The URL names no project ("demo" is only the repository): the archive's metadata does.
    p.write("requirements.txt", &format!("{url}\n"));
    ok(resolve(&p, &[]));
    let lock = p.lock();
    let package = lock
        .package
        .iter()
        .find(|p| p.name == "demo-zip" && p.platform == "linux-64")
        .unwrap_or_else(|| panic!("demo-zip is not locked"));
    assert_eq!(
        (package.version.as_str(), package.url.as_str()),
        ("1.5", url.as_str())
    );
    let bytes = std::fs::read(p.path("index/org/demo/archive/main.zip")).unwrap();
    assert_eq!(
        package.hash.sha256.as_deref(),
        Some(sha256(&bytes).as_str())
    );
    assert!(
        !lock.package.iter().any(|p| p.name == "demo"),
        "the guess is not locked"
    );
    ok(p.command(&["check", "requirements.txt"]).output().unwrap());

    // Named, the name must be the project's.
    p.write("requirements.txt", &format!("other @ {url}\n"));
    let err = fails(resolve(&p, &[]));
    assert!(err.contains("is the project demo-zip, not other"), "{err}");
    assert!(
        err.contains(&format!("name it `demo-zip @ {url}`")),
        "{err}"
    );
    p.write("requirements.txt", &format!("demo-zip @ {url}\n"));
    ok(resolve(&p, &[]));
    ok(p.command(&["check", "requirements.txt"]).output().unwrap());

    // The branch moved: the same URL now holds other bytes, which resolve refuses loudly.
    branch_archive(&p, "VALUE = 2\n");
    let err = fails(resolve(&p, &[]));
    assert!(err.contains("with other content than before"), "{err}");

    // A bare git URL without `#egg=` is named the same way.
    let repo = repository("", STATIC_PYPROJECT, "x");
    p.write(
        "requirements.txt",
        &format!("git+file://{}@v0.2.0\n", repo.path().display()),
    );
    ok(resolve(&p, &["--reset"]));
    assert_eq!(git_package(&p.lock()).version, "0.2.0");
    ok(p.command(&["check", "requirements.txt"]).output().unwrap());
}

/// The repositories and archives envlock keeps under `<cache>/pypi/git/` are private like the
/// rest of its cache: directories 0700, files 0600 (a clone may hold private code, and CI jobs
/// share caches), whatever the umask.
#[cfg(unix)]
#[test]
fn the_git_cache_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let repo = repository("", STATIC_PYPROJECT, "from git");
    let p = project();
    p.write(
        "requirements.txt",
        &format!("demo-git @ git+file://{}@v0.2.0\n", repo.path().display()),
    );
    ok(resolve(&p, &[]));
    let git = p.cache.join("pypi/git");
    let mode = |path: &Path| {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    let files = common::files_under(&git);
    for sub in ["db", "archives"] {
        assert!(
            files.iter().any(|f| f.starts_with(git.join(sub))),
            "the cache holds git/{sub}: {files:?}"
        );
    }
    let mut wrong = Vec::new();
    for file in &files {
        if mode(file) & 0o077 != 0 {
            wrong.push(format!("{} {:o}", file.display(), mode(file)));
        }
        let mut dir = file.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(&p.cache)) {
            if mode(d) != 0o700 {
                wrong.push(format!("{} {:o}", d.display(), mode(d)));
            }
            dir = d.parent();
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "not private:\n{}", wrong.join("\n"));
}

/// `envlock dockerfile` makes a git archive the cache lacks again, into the cache: a cache
/// directory it cannot use fails with the message `resolve` gives (naming it and `--cache-dir`),
/// not a bare "Not a directory", and writes no Dockerfile. A cache that has the archive is only
/// read.
#[test]
fn dockerfile_names_an_unusable_cache_dir() {
    let repo = repository("", STATIC_PYPROJECT, "from git");
    let p = project();
    p.write(
        "requirements.txt",
        &format!("demo-git @ git+file://{}@v0.2.0\n", repo.path().display()),
    );
    ok(resolve(&p, &[]));
    p.write("file", "");
    let cache = p.path("file/cache");
    let base = format!("--base=python:3.12-slim@{DIGEST}");
    let err = fails(
        p.command(&["dockerfile", "--flavor", "venv", &base, "--cache-dir"])
            .arg(&cache)
            .output()
            .unwrap(),
    );
    common::assert_cache_dir_refused(&err, &cache);
    assert!(!p.path("Dockerfile").exists());
    // The resolve's cache has the archive: used as it is.
    ok(p.command(&["dockerfile", "--flavor", "venv", &base])
        .output()
        .unwrap());
}
