//! Files: atomic writes (and the cache's private ones), reading inputs, lockfile-relative paths.

use std::{
    io::Write,
    path::{Component, Path, PathBuf},
    sync::Mutex,
};

use anyhow::{Context, Result};

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`, so an existing
/// file stays intact until the new one is complete. A `path` that is a symlink stays one: the
/// write goes through it to its target (followed to the end of a chain), atomically beside the
/// target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let target = link_target(path);
    write_atomic_to(&target, bytes, None)
        .with_context(|| format!("could not write {}", path.display()))
}

/// The mode of the files envlock writes into its cache on unix: the owner's only. A cache may
/// be shared by CI jobs, and pages may have been fetched with credentials.
pub const CACHE_FILE_MODE: u32 = 0o600;

/// The mode of the cache's directories on unix.
pub const CACHE_DIR_MODE: u32 = 0o700;

/// Writes a cache entry as [`write_atomic`] does, creating its directory with
/// [`create_cache_dir`], the file with [`CACHE_FILE_MODE`] on unix. For the cache only: the
/// lockfile and rendered files keep the usual modes.
pub fn write_cache(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_cache_dir(dir)
            .with_context(|| format!("could not create the cache directory {}", dir.display()))?;
    }
    let target = link_target(path);
    write_atomic_to(&target, bytes, Some(CACHE_FILE_MODE))
        .with_context(|| format!("could not write {}", path.display()))
}

/// Creates the cache directory `dir` and its missing parents with [`CACHE_DIR_MODE`] on unix,
/// and closes `dir` itself to others when it exists with a wider mode (made by an older envlock
/// or with the umask's mode).
pub fn create_cache_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(CACHE_DIR_MODE);
        builder.create(dir)?;
        let meta = std::fs::metadata(dir)?;
        if meta.permissions().mode() & 0o077 != 0 {
            // Best effort: a directory of another user's stays as it is.
            let _ = std::fs::set_permissions(
                dir,
                std::fs::Permissions::from_mode(meta.permissions().mode() & !0o077),
            );
        }
        Ok(())
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// Closes the files and directories under `dir` (itself included) to others, as
/// [`CACHE_FILE_MODE`]/[`CACHE_DIR_MODE`]: for caches written by code that is not envlock's
/// (rattler's repodata cache). Best effort; symlinks are not followed.
pub fn restrict_cache_tree(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::symlink_metadata(dir) else {
            return;
        };
        let mode = meta.permissions().mode();
        if meta.is_dir() {
            if mode & 0o077 != 0 {
                let _ =
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & !0o077));
            }
            if let Ok(entries) = std::fs::read_dir(dir) {
                for entry in entries.flatten() {
                    restrict_cache_tree(&entry.path());
                }
            }
        } else if meta.is_file() && mode & 0o077 != 0 {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & !0o077));
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Makes `dir` ready as envlock's cache directory: created (0700 on unix), and writable, tried
/// by creating a file in it. The error names the directory and `--cache-dir`, instead of a bare
/// "Permission denied" from deep inside a download.
pub fn prepare_cache_dir(dir: &Path) -> Result<(), crate::util::error::Failure> {
    use crate::util::error::Failure;
    let tried = create_cache_dir(dir).and_then(|()| {
        tempfile::Builder::new()
            .prefix(".envlock-probe-")
            .tempfile_in(dir)
            .map(drop)
    });
    tried.map_err(|e| {
        Failure::new(format!(
            "cannot use the cache directory {}: {e}",
            dir.display()
        ))
        .hint(
            "pass `--cache-dir DIR` (or set ENVLOCK_CACHE_DIR) with a directory envlock can \
             create and write",
        )
    })
}

/// The file a symlink at `path` finally points to (relative links resolved against the link's
/// directory); `path` itself when it is not a symlink. A chain longer than 40 links is left to
/// the write to fail on.
fn link_target(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        let Ok(meta) = std::fs::symlink_metadata(&current) else {
            break;
        };
        if !meta.file_type().is_symlink() {
            break;
        }
        let Ok(next) = std::fs::read_link(&current) else {
            break;
        };
        current = match current.parent() {
            Some(dir) if next.is_relative() => dir.join(next),
            _ => next,
        };
    }
    current
}

/// The temporary files being written right now, removed by [`remove_temporary_files`] when the
/// process is interrupted.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The name pattern of [`write_atomic`]'s temporary files, as `.dockerignore` spells it.
pub const TEMPORARY_PATTERN: &str = "**/.*.envlock-*.tmp";

/// Removes the temporary files of writes still under way and the [`ScratchDir`]s in use: the
/// CLI calls it on SIGINT/SIGTERM before exiting, so that an interrupted write leaves only the
/// old file (or the new one), and an interrupted build no directory.
pub fn remove_temporary_files() {
    remove_registered(|_| true);
    let dirs = LIVE_DIRS.lock().unwrap_or_else(|e| e.into_inner());
    for dir in dirs.iter() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Removes the registered temporary files that `which` selects (tests select their own, so that
/// they leave the writes of tests running beside them alone).
fn remove_registered(which: impl Fn(&Path) -> bool) {
    let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    for tmp in live.iter().filter(|p| which(p)) {
        let _ = std::fs::remove_file(tmp);
    }
}

/// A directory of scratch work (an sdist's build) in the system's temporary directory, named
/// `<prefix><pid>-<random>`. It is removed when dropped, by [`remove_temporary_files`] when the
/// process is interrupted, and, when the process was killed outright (SIGKILL, a crash), by the
/// next envlock that makes one with the same prefix (see [`sweep_stale`]).
pub struct ScratchDir {
    dir: tempfile::TempDir,
}

impl ScratchDir {
    /// Makes a new scratch directory; the first one of each prefix in a process removes the stale
    /// ones of dead processes first.
    pub fn new(prefix: &str) -> std::io::Result<ScratchDir> {
        let root = std::env::temp_dir();
        static SWEPT: Mutex<Vec<String>> = Mutex::new(Vec::new());
        {
            let mut swept = SWEPT.lock().unwrap_or_else(|e| e.into_inner());
            if !swept.iter().any(|p| p == prefix) {
                swept.push(prefix.to_string());
                sweep_stale(&root, prefix, STALE_AFTER);
            }
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}{}-", std::process::id()))
            .tempdir_in(&root)?;
        LIVE_DIRS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(dir.path().to_path_buf());
        Ok(ScratchDir { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        LIVE_DIRS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| p != self.dir.path());
    }
}

/// The scratch directories in use, removed by [`remove_temporary_files`].
static LIVE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// How old a scratch directory of a dead process must be before another envlock removes it: an
/// hour, so that a directory whose process only looks dead (another PID namespace sharing the
/// temporary directory) is left alone while any build step could still run in it (each step
/// has a 10-minute timeout).
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the directories `<prefix><pid>-*` under `root` that are this user's, whose process
/// `pid` no longer runs and that were last changed more than `min_age` ago. Only on Linux, where `/proc` tells whether a
/// process runs; elsewhere nothing is removed. Best effort: a failure leaves the directory.
fn sweep_stale(root: &Path, prefix: &str, min_age: std::time::Duration) {
    if !cfg!(target_os = "linux") || !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        // `DirEntry::metadata` does not follow a symlink: only real directories, and only
        // this user's (the temporary directory is shared).
        let old = entry
            .metadata()
            .ok()
            .filter(|m| m.is_dir() && owned_by_this_user(m))
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= min_age);
        if old && pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether the file of `meta` belongs to the effective user of this process.
fn owned_by_this_user(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid(2) takes nothing and always succeeds.
        meta.uid() == unsafe { libc::geteuid() }
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

/// Numbers the writes of this process, so that two writes beside each other at once never share
/// a temporary file.
static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn write_atomic_to(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.envlock-{}-{n}.tmp", std::process::id()));
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(tmp.clone());
    let result = (|| -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|p| *p != tmp);
    result
}

/// The largest input file envlock reads: far above any real environment.yml or requirements
/// file, small enough that a hostile one cannot exhaust memory.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads an input file: a regular file (checked before opening, so a FIFO or a device never
/// blocks the read) of at most [`MAX_INPUT_BYTES`]. The error says which limit, as an
/// `io::Error` so that callers wrap it like any other read error.
pub fn read_input(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            file_kind(&meta)
        };
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("it is {what}, not a regular file"),
        ));
    }
    let too_large = |size: u64| {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "it is {size} bytes, more than the {} MiB envlock reads from an input file",
                MAX_INPUT_BYTES / 1024 / 1024
            ),
        )
    };
    if meta.len() > MAX_INPUT_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow between the check and the read.
    std::fs::File::open(path)?
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The longest line envlock reads from an input file: far above any real requirement (a line
/// with dozens of `--hash` options is a few KiB), so that a minified or generated file is named
/// at once instead of being parsed for minutes.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// An input file's bytes as text: UTF-8 (else an error at the first invalid byte's
/// `file:line:column`, with its offset) with no line longer than [`MAX_LINE_BYTES`] (else an
/// error at that line). A file that starts with a UTF-16 byte-order mark is decoded as UTF-16,
/// as pip and uv read it: PowerShell's `pip freeze > requirements.txt` writes UTF-16 LE. (A
/// UTF-8 byte-order mark stays, for the readers that skip it.)
pub fn input_text(path: &Path, bytes: Vec<u8>) -> Result<String, crate::util::error::Failure> {
    use crate::util::error::Failure;
    let text = match bytes.get(..2) {
        Some([0xFF, 0xFE]) => utf16(path, &bytes[2..], u16::from_le_bytes)?,
        Some([0xFE, 0xFF]) => utf16(path, &bytes[2..], u16::from_be_bytes)?,
        _ => utf8(path, bytes)?,
    };
    if let Some((n, line)) = text
        .split('\n')
        .enumerate()
        .find(|(_, l)| l.len() > MAX_LINE_BYTES)
    {
        return Err(Failure::new(format!(
            "{}:{}:1: the line is {} KiB long, more than the {} KiB envlock reads in a line",
            path.display(),
            n + 1,
            line.len() / 1024,
            MAX_LINE_BYTES / 1024
        ))
        .hint(
            "inputs are environment.yml, requirements files and pyproject.toml; split the line, \
             or check that this is the file you meant",
        ));
    }
    Ok(text)
}

/// `bytes` (after a UTF-16 byte-order mark) as UTF-16 with the byte order `unit`; an unpaired
/// surrogate or a trailing odd byte is an error at its `file:line:column`.
fn utf16(
    path: &Path,
    bytes: &[u8],
    unit: fn([u8; 2]) -> u16,
) -> Result<String, crate::util::error::Failure> {
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    let mut text = String::with_capacity(bytes.len() / 2);
    let (mut line, mut column) = (1, 1);
    let fail = |line: usize, column: usize, what: &str| {
        crate::util::error::Failure::new(format!(
            "{}:{line}:{column}: is not UTF-16 text ({what})",
            path.display()
        ))
        .hint("save the file as UTF-8")
    };
    for c in char::decode_utf16(units) {
        let c = c.map_err(|_| fail(line, column, "an unpaired surrogate"))?;
        text.push(c);
        if c == '\n' {
            (line, column) = (line + 1, 1);
        } else {
            column += 1;
        }
    }
    if bytes.len() % 2 == 1 {
        return Err(fail(line, column, "it ends in half a character"));
    }
    Ok(text)
}

/// `bytes` as UTF-8, else an error at the first invalid byte's `file:line:column`.
fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String, crate::util::error::Failure> {
    use crate::util::error::Failure;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Failure::new(format!(
            "{}:{line}:{}: is not UTF-8 text (invalid byte at offset {offset})",
            path.display(),
            offset - line_start + 1
        ))
        .hint("save the file as UTF-8")
    })
}

#[cfg(unix)]
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn file_kind(_: &std::fs::Metadata) -> &'static str {
    "a special file"
}

/// `path` relative to `base` (both as given, made absolute against the working directory),
/// with `/` separators, as CEP-37 `sources` require.
pub fn relative_to(path: &Path, base: &Path) -> String {
    let abs = |p: &Path| -> PathBuf {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                c => out.push(c),
            }
        }
        out
    };
    let (path, base) = (abs(path), abs(base));
    let common = path
        .components()
        .zip(base.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<String> = Vec::new();
    for _ in base.components().skip(common) {
        parts.push("..".into());
    }
    for c in path.components().skip(common) {
        parts.push(c.as_os_str().to_string_lossy().into_owned());
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn stale_scratch_dirs_of_dead_processes_are_swept_and_others_kept() {
        let root = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let dir = root.path().join(name);
            std::fs::create_dir_all(dir.join("env/bin")).unwrap();
            std::fs::write(dir.join("env/bin/python"), "").unwrap();
            dir
        };
        // pid_max is at most 2^22 on Linux: no process has this pid.
        let dead = make("envlock-build-99999999-abc");
        let own = make(&format!("envlock-build-{}-abc", std::process::id()));
        let init = make("envlock-build-1-abc"); // pid 1 always runs
        let other = make("other-99999999-abc");
        let unnamed = make("envlock-build-abc");
        let file = root.path().join("envlock-build-99999999-file");
        std::fs::write(&file, "").unwrap();
        // A link with our name to someone's directory: neither it nor its target goes.
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("keep"), "").unwrap();
        let link = root.path().join("envlock-build-99999998-link");
        std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();

        // Too young: kept, whoever made it.
        sweep_stale(
            root.path(),
            "envlock-build-",
            std::time::Duration::from_secs(3600),
        );
        assert!(dead.exists());

        sweep_stale(root.path(), "envlock-build-", std::time::Duration::ZERO);
        assert!(!dead.exists(), "the dead process's directory is removed");
        assert!(elsewhere.path().join("keep").exists());
        let mut kept = vec![own, init, other, unnamed, file, link];
        // Another user's directory with our name (only root can make one here): kept.
        // SAFETY: geteuid(2) takes nothing and always succeeds.
        if unsafe { libc::geteuid() } == 0 {
            let theirs = make("envlock-build-99999997-abc");
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            sweep_stale(root.path(), "envlock-build-", std::time::Duration::ZERO);
            kept.push(theirs);
        }
        for kept in &kept {
            assert!(kept.exists(), "{} is kept", kept.display());
        }
    }

    #[test]
    fn a_scratch_dir_is_removed_when_dropped_and_known_to_the_interrupt_handler_while_used() {
        let dropped = ScratchDir::new("envlock-test-scratch-").unwrap();
        let path = dropped.path().to_path_buf();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(&format!("envlock-test-scratch-{}-", std::process::id())));
        std::fs::write(path.join("x"), "").unwrap();
        drop(dropped);
        assert!(!path.exists());

        let live = ScratchDir::new("envlock-test-scratch-").unwrap();
        std::fs::create_dir_all(live.path().join("a/b")).unwrap();
        assert!(
            LIVE_DIRS.lock().unwrap().iter().any(|p| p == live.path()),
            "registered for the interrupt handler"
        );
        let path = live.path().to_path_buf();
        drop(live);
        assert!(!LIVE_DIRS.lock().unwrap().contains(&path));
    }

    #[test]
    fn utf16_inputs_with_a_byte_order_mark_are_read_as_pip_reads_them() {
        let path = Path::new("requirements.txt");
        let text = "flask==3.0\r\nrequests>=2 # \u{e9}\u{1F600}\r\n";
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(input_text(path, le.clone()).unwrap(), text);
        assert_eq!(input_text(path, be).unwrap(), text);

        // A lone surrogate on line 2, column 3; half a character at the end.
        let mut bad = vec![0xFF, 0xFE];
        bad.extend("a\nbc".encode_utf16().flat_map(u16::to_le_bytes));
        bad.extend(0xD800u16.to_le_bytes());
        let err = input_text(path, bad).unwrap_err();
        assert_eq!(
            err.message,
            "requirements.txt:2:3: is not UTF-16 text (an unpaired surrogate)"
        );
        let mut odd = le;
        odd.push(b'x');
        let err = input_text(path, odd).unwrap_err();
        assert!(
            err.message
                .starts_with("requirements.txt:3:1: is not UTF-16 text (it ends in half"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_interrupted_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(".conda-lock.yml.envlock-1.tmp");
        std::fs::write(&tmp, "half").unwrap();
        LIVE.lock().unwrap().push(tmp.clone());
        remove_registered(|p| p.starts_with(dir.path()));
        assert!(!tmp.exists());
        LIVE.lock().unwrap().retain(|p| *p != tmp);
        // A finished write unregisters its temporary file.
        write_atomic(&dir.path().join("x"), b"x").unwrap();
        assert!(
            !LIVE
                .lock()
                .unwrap()
                .iter()
                .any(|p| p.starts_with(dir.path()))
        );
    }

    #[test]
    fn sources_are_relative_to_the_lockfile() {
        assert_eq!(
            relative_to(Path::new("/a/b/environment.yml"), Path::new("/a/b")),
            "environment.yml"
        );
        assert_eq!(
            relative_to(Path::new("/a/env/x.yml"), Path::new("/a/lock")),
            "../env/x.yml"
        );
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conda-lock.yml");
        std::fs::write(&path, "old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn cache_entries_are_private_and_other_files_are_not() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let entry = dir.path().join("cache/pypi/pages/x.json");
        write_cache(&entry, b"{}").unwrap();
        assert_eq!(mode(&entry), CACHE_FILE_MODE);
        for d in ["cache", "cache/pypi", "cache/pypi/pages"] {
            assert_eq!(mode(&dir.path().join(d)), CACHE_DIR_MODE, "{d}");
        }
        // An entry an older envlock wrote 0644 is replaced by a private one.
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_cache(&entry, b"{}").unwrap();
        assert_eq!(mode(&entry), CACHE_FILE_MODE);
        // The lockfile and rendered files keep the usual mode.
        let lock = dir.path().join("conda-lock.yml");
        write_atomic(&lock, b"x").unwrap();
        assert_ne!(mode(&lock) & 0o044, 0);
        // A tree another writer made is closed to others.
        let other = dir.path().join("repodata/sub");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(other.join("r.json"), "{}").unwrap();
        std::fs::set_permissions(other.join("r.json"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        restrict_cache_tree(&dir.path().join("repodata"));
        assert_eq!(mode(&other), 0o700);
        assert_eq!(mode(&other.join("r.json")), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn inputs_are_regular_files_of_bounded_size() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("environment.yml");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = read_input(&fifo).unwrap_err().to_string();
        assert_eq!(e, "it is a FIFO (named pipe), not a regular file");
        let e = read_input(dir.path()).unwrap_err().to_string();
        assert_eq!(e, "it is a directory, not a regular file");
        let big = dir.path().join("big.txt");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(MAX_INPUT_BYTES + 1).unwrap();
        let e = read_input(&big).unwrap_err().to_string();
        assert!(
            e.ends_with("more than the 16 MiB envlock reads from an input file"),
            "{e}"
        );
        std::fs::write(&big, "six\n").unwrap();
        assert_eq!(read_input(&big).unwrap(), b"six\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_output_stays_a_symlink_and_its_target_is_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        let target = dir.path().join("real/conda-lock.yml");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("conda-lock.yml");
        std::os::unix::fs::symlink("real/conda-lock.yml", &link).unwrap();
        let chained = dir.path().join("chained.yml");
        std::os::unix::fs::symlink(&link, &chained).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        write_atomic(&chained, b"newer").unwrap();
        assert!(
            std::fs::symlink_metadata(&chained)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "newer");
        assert_eq!(
            std::fs::read_dir(dir.path().join("real")).unwrap().count(),
            1
        );
    }
}
