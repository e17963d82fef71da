//! Test support: a real HTTP server on 127.0.0.1, a runner for the built binary, a temporary
//! [`Project`] to run it in, and [`envlock_snapshot!`] to compare a run's exit code, stdout and
//! stderr with a snapshot under `tests/snapshots/`.
//!
//! Snapshots: when envlock's output changes on purpose (a reworded message, a new finding),
//! re-accept every snapshot with
//!
//!     INSTA_UPDATE=always cargo test --test check --test dockerfile --test resolve_conda \
//!         --test resolve_pypi --test diff --test compat
//!
//! (or, with cargo-insta, `cargo insta test --accept`, or `cargo insta review` one by one; add
//! `--unreferenced=delete` to drop snapshots no test writes any more), then review
//! `git diff tests/snapshots`. The drift cases of `envlock check` are folders under
//! `tests/data/drift/` (see tests/check.rs); a new folder is a new case and snapshot.
//! In CI (`CI=true`) a missing or changed snapshot fails the test and nothing is written.
//! Machine-specific text (temp dirs, server ports, timings, the crate version, content hashes
//! of locks made from servers on random ports) is replaced by placeholders; see [`snapshot`].
#![allow(dead_code)]

pub mod lint;
pub mod project;
pub mod pypi_index;
pub mod snapshot;

pub use project::Project;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

/// How the server answers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serve files, with ETag and 304 on `If-None-Match`.
    Files,
    /// Answer every request with 500.
    Fail,
    /// Serve files but ignore `Range` headers, as some mirrors do.
    NoRanges,
    /// Serve files only to requests with HTTP basic auth `alice:s3cret` (else 401), as a
    /// private index does.
    BasicAuth,
    /// Serve files, but answer 500 for the optional sharded-repodata probe.
    FailShards,
    /// The first answer for each path sends its headers and half its body, then hangs up.
    DropFirstBody,
    /// The first request for each path gets 429 with `Retry-After: 1`.
    RetryAfterFirst,
    /// Read requests and never answer.
    Hang,
    /// Requests for a path ending with `.0` (`""`: every path) get the statuses of `.1` in turn (counted per method
    /// and path), then the file: `Statuses("/tool/", &[503, 503])`. A list longer than envlock's
    /// retries is a permanent failure.
    Statuses(&'static str, &'static [u16]),
    /// The first `.0` answers for each `.zst` file send only the first half of the compressed
    /// body, with a Content-Length that matches the cut body: only decompression notices.
    TruncatedZst(usize),
    /// The first `.1` answers (200 or 206) for a path ending with `.0` promise the whole body in
    /// Content-Length, send half of it, and close the connection.
    ShortBody(&'static str, usize),
    /// The first `.1` answers (200 or 206) for a path ending with `.0` send their headers and
    /// half the body, then nothing more (a stalled transfer; see `ENVLOCK_HTTP_TIMEOUT`).
    StallBody(&'static str, usize),
    /// A path ending with `.0` is answered with the bytes `.1` instead (200 `text/html`, a
    /// matching Content-Length, no ETag, whatever the `Range`): a tampered mirror, a captive
    /// portal.
    Substitute(&'static str, &'static [u8]),
}

/// The `Authorization` header [`Mode::BasicAuth`] wants: `alice:s3cret`.
pub const BASIC_AUTH: &str = "Basic YWxpY2U6czNjcmV0";

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Response body bytes sent.
    pub bytes: usize,
}

/// A static file server on 127.0.0.1, stopped when dropped.
pub struct Server {
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl Server {
    pub fn start(root: &Path, mode: Mode) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (root, h, s) = (root.to_path_buf(), hits.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, h) = (root.clone(), h.clone());
                thread::spawn(move || {
                    let _ = serve(stream, &root, mode, &h);
                });
            }
        });
        Server {
            url: format!("http://127.0.0.1:{port}"),
            hits,
            stop,
            port,
        }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.hits.lock().unwrap().clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(
    stream: TcpStream,
    root: &Path,
    mode: Mode,
    hits: &Mutex<Vec<Hit>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut if_none_match = None;
        let mut range = None;
        let mut authorization = None;
        let mut content_length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                if k == "if-none-match" {
                    if_none_match = Some(v);
                } else if k == "range" {
                    range = Some(v);
                } else if k == "authorization" {
                    authorization = Some(v);
                } else if k == "content-length" {
                    content_length = v.parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;

        if mode == Mode::Hang {
            thread::sleep(std::time::Duration::from_secs(600));
            return Ok(());
        }
        let first = !hits.lock().unwrap().iter().any(|h| h.path == path);
        // Earlier requests with this method for this path.
        let prior = hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.path == path && h.method == method)
            .count();
        let (status, headers, mut body) = if mode == Mode::RetryAfterFirst && first {
            let after = ("Retry-After".to_string(), "1".to_string());
            (429, vec![after], b"slow down".to_vec())
        } else if let Mode::Statuses(end, statuses) = mode
            && path.ends_with(end)
            && prior < statuses.len()
        {
            (statuses[prior], vec![], b"unavailable".to_vec())
        } else if let Mode::Substitute(end, bytes) = mode
            && path.ends_with(end)
        {
            // Whatever the request (a range too), as a captive portal or a wrong file would.
            let html = ("Content-Type".to_string(), "text/html".to_string());
            (200, vec![html], bytes.to_vec())
        } else if mode == Mode::FailShards && path.contains("repodata_shards") {
            (500, vec![], b"boom".to_vec())
        } else if mode == Mode::BasicAuth && authorization.as_deref() != Some(BASIC_AUTH) {
            let challenge = ("WWW-Authenticate".to_string(), "Basic".to_string());
            (401, vec![challenge], b"unauthorized".to_vec())
        } else {
            respond(
                root,
                mode,
                &path,
                if_none_match.as_deref(),
                range.as_deref(),
            )
        };
        let mut promised = body.len();
        let ok = status == 200 || status == 206;
        match mode {
            Mode::TruncatedZst(n) if path.ends_with(".zst") && ok && prior < n => {
                body.truncate(body.len() / 2);
                promised = body.len();
            }
            Mode::ShortBody(end, n) if path.ends_with(end) && ok && prior < n => {
                body.truncate(body.len() / 2);
            }
            _ => {}
        }
        let sent = if method == "HEAD" { 0 } else { body.len() };
        hits.lock().unwrap().push(Hit {
            method: method.clone(),
            path: path.clone(),
            status,
            bytes: sent,
        });
        if let Mode::StallBody(end, n) = mode
            && path.ends_with(end)
            && ok
            && prior < n
            && method != "HEAD"
        {
            stream.write_all(response_head(status, body.len(), &headers).as_bytes())?;
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            thread::sleep(std::time::Duration::from_secs(600));
            return Ok(());
        }
        if promised != body.len() && method != "HEAD" {
            stream.write_all(response_head(status, promised, &headers).as_bytes())?;
            stream.write_all(&body)?;
            stream.flush()?;
            return stream.shutdown(std::net::Shutdown::Both);
        }
        if mode == Mode::DropFirstBody && first && status == 200 && method != "HEAD" {
            stream.write_all(response_head(200, body.len(), &headers).as_bytes())?;
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            return stream.shutdown(std::net::Shutdown::Both);
        }
        let reason = match status {
            200 => "OK",
            206 => "Partial Content",
            304 => "Not Modified",
            401 => "Unauthorized",
            429 => "Too Many Requests",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            404 => "Not Found",
            _ => "Internal Server Error",
        };
        let mut head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        if method != "HEAD" {
            stream.write_all(&body)?;
        }
        stream.flush()?;
    }
}

/// The status line and headers of an answer whose body is cut short or never finished (the
/// reason phrase does not matter to a client).
fn response_head(status: u16, length: usize, headers: &[(String, String)]) -> String {
    let mut head = format!("HTTP/1.1 {status} OK\r\nContent-Length: {length}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

fn respond(
    root: &Path,
    mode: Mode,
    path: &str,
    if_none_match: Option<&str>,
    range: Option<&str>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    if mode == Mode::Fail {
        return (500, vec![], b"boom".to_vec());
    }
    // Paths arrive percent-encoded (`torch-2.5.1%2Bcpu-….whl`), as a real server decodes them.
    let decoded = percent_decode(path.split('?').next().unwrap_or(""));
    let rel = decoded.trim_start_matches('/');
    if rel.split('/').any(|s| s == "..") {
        return (404, vec![], vec![]);
    }
    // A directory URL is a simple-API page: `index.json` (PEP 691) or `index.html` (PEP 503).
    let (file, content_type) = if rel.is_empty() || rel.ends_with('/') {
        let dir = root.join(rel);
        if dir.join("index.json").is_file() {
            (
                dir.join("index.json"),
                "application/vnd.pypi.simple.v1+json",
            )
        } else {
            (dir.join("index.html"), "text/html")
        }
    } else if rel.ends_with(".json") {
        (root.join(rel), "application/json")
    } else {
        (root.join(rel), "application/octet-stream")
    };
    let Ok(bytes) = std::fs::read(&file) else {
        return (404, vec![], vec![]);
    };
    // A content-derived ETag, so an unchanged file revalidates with 304.
    let etag = format!("\"{:x}-{}\"", fnv(&bytes), bytes.len());
    let mut headers = vec![
        ("ETag".to_string(), etag.clone()),
        ("Content-Type".to_string(), content_type.to_string()),
    ];
    if if_none_match == Some(etag.as_str()) {
        return (304, headers, vec![]);
    }
    if let (Some(range), false) = (range, mode == Mode::NoRanges) {
        let len = bytes.len();
        let spec = range.trim_start_matches("bytes=");
        let (start, end) = match spec.split_once('-') {
            Some(("", n)) => (len.saturating_sub(n.parse().unwrap_or(0)), len - 1),
            Some((a, "")) => (a.parse().unwrap_or(0), len - 1),
            Some((a, b)) => (
                a.parse().unwrap_or(0),
                b.parse::<usize>().unwrap_or(0).min(len - 1),
            ),
            None => (0, len - 1),
        };
        if start <= end && end < len {
            headers.push((
                "Content-Range".to_string(),
                format!("bytes {start}-{end}/{len}"),
            ));
            return (206, headers, bytes[start..=end].to_vec());
        }
    }
    (200, headers, bytes)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Every file under `dir`, recursively (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The project's own hand-written channels.
pub fn fixture_channels() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/channels")
}

/// `../shared/fixtures/channels`, or `None` (after saying so) when it is absent outside CI.
/// In CI (`CI=true`) its absence is a failure.
pub fn shared_channels() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/channels");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{} is missing, and CI=true requires it", dir.display());
    }
    eprintln!(
        "skipping: {} is absent (see ../shared/fixtures/README.md)",
        dir.display()
    );
    None
}

/// The built binary, with an isolated cache and no inherited envlock settings.
pub fn envlock(cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_envlock"));
    cmd.env_remove("ENVLOCK_CHANNEL_ALIAS")
        .env("ENVLOCK_CACHE_DIR", cache)
        .env("NO_COLOR", "1");
    cmd
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success and returns stderr.
pub fn ok(output: Output) -> String {
    let err = stderr(&output);
    assert!(
        output.status.success(),
        "envlock failed ({}):\n{err}",
        output.status
    );
    err
}

/// Asserts exit code 2 and returns stderr.
pub fn fails(output: Output) -> String {
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "expected exit 2, got {}:\n{err}",
        output.status
    );
    assert!(err.starts_with("error: "), "{err}");
    err
}

/// A Python venv at `target/test-venvs/<name>` with `packages` installed from PyPI, made once
/// and reused while its package list is unchanged.
pub fn python_venv(name: &str, packages: &[&str]) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("test-venvs")
        .join(name);
    let marker = dir.join("envlock-test-packages.txt");
    let wanted = packages.join("\n");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let run = |cmd: &mut Command| {
        let out = cmd.output().expect("run python");
        assert!(
            out.status.success(),
            "{cmd:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(&dir));
    run(Command::new(dir.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(packages));
    std::fs::write(&marker, wanted).unwrap();
    dir
}

/// Installs the locked pip set of `platform` with `pip install --no-deps --require-hashes` into a
/// fresh venv of this machine's python 3.11 (the `pyconda` fixture python is 3.11.7), then runs
/// `pip check`. `preinstall` stands in for what the conda part of the lock installs.
pub fn install_and_check(
    lock: &rattler_conda_lock::LockFile,
    platform: &str,
    dir: &Path,
    preinstall: &[&str],
) {
    let requirements = envlock::render::pip_requirements(lock, platform, "conda-lock.yml");
    let file = dir.join(format!("pip-{platform}.txt"));
    std::fs::write(&file, &requirements).unwrap();
    let venv = dir.join("venv");
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success());
    let pip = |args: &[&str]| {
        Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "--disable-pip-version-check", "--quiet"])
            .args(args)
            .env_remove("PIP_FIND_LINKS")
            .output()
            .unwrap()
    };
    if !preinstall.is_empty() {
        let out = pip(&[&["install"], preinstall].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = pip(&[
        "install",
        "--no-deps",
        "--require-hashes",
        "-r",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "pip install failed:\n{requirements}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Sdists with a locked build set, as the Dockerfile installs them: the build set into a
    // directory of its own, then the sdists without build isolation against it.
    if !envlock::render::built_sdists(lock, platform).is_empty() {
        use envlock::render::{PipSet, pip_file};
        let build = dir.join(format!("pip-build-{platform}.txt"));
        let sdists = dir.join(format!("pip-sdist-{platform}.txt"));
        std::fs::write(
            &build,
            pip_file(lock, platform, "conda-lock.yml", PipSet::Build),
        )
        .unwrap();
        std::fs::write(
            &sdists,
            pip_file(lock, platform, "conda-lock.yml", PipSet::Sdists),
        )
        .unwrap();
        let target = dir.join("envlock-build");
        let out = pip(&[
            "install",
            "--no-deps",
            "--require-hashes",
            "--target",
            target.to_str().unwrap(),
            "-r",
            build.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "pip install of the build set failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "--disable-pip-version-check", "--quiet"])
            .args([
                "install",
                "--no-deps",
                "--require-hashes",
                "--no-build-isolation",
            ])
            .arg("-r")
            .arg(&sdists)
            .env_remove("PIP_FIND_LINKS")
            .env("PYTHONPATH", &target)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pip install of the sdists failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = pip(&["check"]);
    assert!(
        out.status.success(),
        "pip check: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `%XX` escapes decoded; anything else kept.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pip package `name` locked for `platform` (panics, naming it, when there is none).
pub fn pip_package<'a>(
    lock: &'a rattler_conda_lock::LockFile,
    platform: &str,
    name: &str,
) -> &'a rattler_conda_lock::Package {
    lock.package
        .iter()
        .find(|p| {
            p.manager == rattler_conda_lock::Manager::Pip
                && p.platform == platform
                && p.name == name
        })
        .unwrap_or_else(|| panic!("{name} not locked for {platform}"))
}

/// What a command printed, stdout then stderr, after checking that it exited 1 (drift).
/// Asserts that `err` is the one error for a cache directory that cannot be used, naming `cache`
/// and `--cache-dir`.
pub fn assert_cache_dir_refused(err: &str, cache: &Path) {
    assert!(
        err.starts_with(&format!(
            "error: cannot use the cache directory {}",
            cache.display()
        )),
        "{err}"
    );
    assert!(err.contains("hint: pass `--cache-dir DIR`"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
}

pub fn drifted(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(output)
    )
}

/// A PEP 517 backend to keep in a test project's own tree (`backend-path = ["."]`), so that pip
/// and envlock build it offline: `build_wheel` makes a wheel of `<module>/__init__.py` whose
/// METADATA names `name` `version` and `requires`.
pub fn in_tree_backend(module: &str, name: &str, version: &str, requires: &[&str]) -> String {
    let requires: Vec<String> = requires.iter().map(|r| format!("{r:?}")).collect();
    format!(
        r#"import base64, hashlib, os, zipfile

MODULE, NAME, VERSION = "{module}", "{name}", "{version}"
REQUIRES = [{requires}]


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    dist = f"{{MODULE}}-{{VERSION}}.dist-info"
    with open(os.path.join(MODULE, "__init__.py"), "rb") as f:
        files = {{f"{{MODULE}}/__init__.py": f.read()}}
    lines = ["Metadata-Version: 2.1", f"Name: {{NAME}}", f"Version: {{VERSION}}"]
    lines += [f"Requires-Dist: {{r}}" for r in REQUIRES]
    files[f"{{dist}}/METADATA"] = ("\n".join(lines) + "\n").encode()
    files[f"{{dist}}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{{path}},sha256={{digest}},{{len(data)}}")
    record.append(f"{{dist}}/RECORD,,")
    files[f"{{dist}}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = f"{{MODULE}}-{{VERSION}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
    return wheel
"#,
        requires = requires.join(", ")
    )
}
