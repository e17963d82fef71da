//! Git requirements: `name @ git+https://host/org/repo@ref#subdirectory=dir` resolved to a
//! commit and turned into a source archive with a sha256.
//!
//! pip installs a VCS requirement from a fresh checkout and cannot check a hash for it, and uv
//! and conda-lock lock the commit but leave the image build to clone it. envlock resolves the
//! ref to its full commit when it locks, and makes a plain `.tar` of that commit's tree (of
//! `#subdirectory=` when given) that does not depend on the git version or on when it is made:
//! the entries in git's order, under `source-<commit12>/`, with the commit's time, owner 0 and
//! modes 0644/0755. That archive is an sdist like any other: its metadata comes from a static
//! `[project]` table or the PEP 517 hook, its build requirements go to the build set, and the
//! Dockerfile installs it from the build context with `--hash`, so the image build needs
//! neither git nor the network for it. The lock records `git+<repository>@<commit>` and the
//! archive's sha256; the commit is the pin.
//!
//! The repositories are kept as bare clones under `<cache>/git/db/`, the archives under
//! `<cache>/git/archives/<sha256>.tar`. git itself does the fetching (its credential helpers,
//! netrc and ssh keys apply); the user info of an http(s) URL is given to git as an
//! `Authorization` header through its environment, so it never appears in a URL git stores or
//! prints, nor in the lock.
//!
//! Not supported: submodules (`git archive` leaves them out), and Git LFS files (the archive
//! holds their pointers).

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::Result;
use base64::Engine;
use url::Url;

use crate::util::{error::Failure, redact};

/// A git requirement's URL, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitUrl {
    /// What git is given: the URL without `git+`, the `@ref` and the fragment (user info
    /// included; it never leaves this module but as a header).
    repository: Url,
    /// The branch, tag or commit after `@`; `None` for the remote's default branch.
    pub reference: Option<String>,
    /// `#subdirectory=`: where in the repository the project is.
    pub subdirectory: Option<String>,
}

/// A commit made into an archive.
#[derive(Debug, Clone)]
pub struct Archive {
    /// The full commit id.
    pub commit: String,
    /// The archive's sha256, hex.
    pub sha256: String,
    /// Where the archive is in the cache.
    pub path: PathBuf,
}

impl GitUrl {
    /// Takes a `git+…` URL apart.
    pub fn parse(url: &Url) -> Result<GitUrl> {
        let Some(scheme) = url.scheme().strip_prefix("git+") else {
            anyhow::bail!("{} is not a git URL", redact::url(url));
        };
        // The transports pip reads, and no others (a lock is untrusted: no `ext::`).
        if !matches!(scheme, "https" | "http" | "ssh" | "git" | "file") {
            anyhow::bail!("`git+{scheme}` is not a git transport envlock uses");
        }
        let mut subdirectory = None;
        for part in url.fragment().unwrap_or_default().split('&') {
            if let Some(sub) = part.strip_prefix("subdirectory=") {
                if sub.starts_with('/') || sub.split('/').any(|s| s == ".." || s.is_empty()) {
                    anyhow::bail!("the subdirectory `{sub}` is not a relative path");
                }
                subdirectory = Some(sub.to_string());
            }
        }
        let path = url.path();
        let (repo_path, reference) = match path.rsplit_once('@') {
            // Never an option to git (`-…`), nor anything a ref cannot hold.
            Some((_, reference))
                if reference.starts_with('-')
                    || reference
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c)) =>
            {
                anyhow::bail!("`{reference}` is not a git ref")
            }
            Some((repo, reference)) if !reference.is_empty() => {
                (repo.to_string(), Some(reference.to_string()))
            }
            Some(_) => anyhow::bail!("the `@` after the repository names no ref"),
            None => (path.to_string(), None),
        };
        // `Url::set_scheme` refuses to turn a special scheme into another, so the URL is built
        // again from its parts.
        let mut text = format!("{scheme}://");
        if !url.username().is_empty() {
            text.push_str(url.username());
            if let Some(password) = url.password() {
                text.push(':');
                text.push_str(password);
            }
            text.push('@');
        }
        text.push_str(url.host_str().unwrap_or_default());
        if let Some(port) = url.port() {
            text.push_str(&format!(":{port}"));
        }
        text.push_str(&repo_path);
        let repository =
            Url::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", redact::url(url)))?;
        Ok(GitUrl {
            repository,
            reference,
            subdirectory,
        })
    }

    /// The repository as it may be written and shown: without credentials (an ssh user name
    /// is kept: it is not a secret, and the remote needs it).
    pub fn display_repository(&self) -> String {
        let mut shown = redact::url(&self.repository);
        if self.repository.scheme() == "ssh" && self.repository.password().is_none() {
            let _ = shown.set_username(self.repository.username());
        }
        shown.to_string()
    }

    /// The URL the lock records for `commit`: `git+<repository>@<commit>[#subdirectory=…]`.
    pub fn locked(&self, commit: &str) -> String {
        let mut out = format!("git+{}@{commit}", self.display_repository());
        if let Some(sub) = &self.subdirectory {
            out.push_str(&format!("#subdirectory={sub}"));
        }
        out
    }

    /// The requested URL as it may be recorded: [`GitUrl::locked`] with the ref as given.
    pub fn requested(&self) -> String {
        let mut out = format!("git+{}", self.display_repository());
        if let Some(reference) = &self.reference {
            out.push_str(&format!("@{reference}"));
        }
        if let Some(sub) = &self.subdirectory {
            out.push_str(&format!("#subdirectory={sub}"));
        }
        out
    }

    /// The commit of a locked URL ([`GitUrl::locked`]): its ref, when it is a full commit id.
    pub fn locked_commit(&self) -> Option<&str> {
        self.reference.as_deref().filter(|r| is_full_commit(r))
    }
}

/// A full SHA-1 or SHA-256 commit id.
pub fn is_full_commit(text: &str) -> bool {
    (text.len() == 40 || text.len() == 64)
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Where the archive with `sha256` is kept in `cache` (the PyPI cache directory).
pub fn archive_path(cache: &Path, sha256: &str) -> PathBuf {
    cache.join("git/archives").join(format!("{sha256}.tar"))
}

/// Resolves `url`'s ref to a commit (fetching the repository into `cache` unless `offline` or
/// the ref is a commit already there) and archives that commit for `name`. Blocking.
pub fn archive(cache: &Path, url: &GitUrl, offline: bool) -> Result<Archive> {
    let repo = Repository::open(cache, url)?;
    let reference = url.reference.as_deref();
    let commit = match reference.and_then(|r| repo.commit(r)) {
        Some(commit) if reference.is_some_and(is_full_commit) => commit,
        _ if offline => repo.resolve(reference).ok_or_else(|| {
            Failure::new(format!(
                "{} is not in the cache, and --offline forbids fetching it",
                url.requested()
            ))
            .hint("run once without --offline to fetch it")
        })?,
        _ => {
            repo.fetch_all()?;
            match repo.resolve(reference) {
                Some(commit) => commit,
                // A commit that no branch or tag reaches: servers give it when asked by id.
                None if reference.is_some_and(|r| r.len() >= 7 && is_hex(r)) => {
                    repo.fetch_one(reference.unwrap_or_default())?;
                    repo.commit("FETCH_HEAD").ok_or_else(|| not_found(url))?
                }
                None => return Err(not_found(url).into()),
            }
        }
    };
    make_archive(cache, &repo, url, &commit)
}

/// The archive of a locked `git+…@<commit>` URL with `sha256`: from the cache, else made again
/// (fetching the commit when the cache lacks it) and checked against `sha256`. Blocking.
pub fn locked_archive(cache: &Path, url: &GitUrl, sha256: &str) -> Result<PathBuf> {
    let path = archive_path(cache, sha256);
    if let Ok(bytes) = std::fs::read(&path)
        && crate::util::sha256_hex(&bytes) == sha256
    {
        return Ok(path);
    }
    let commit = url
        .locked_commit()
        .ok_or_else(|| anyhow::anyhow!("{} does not name a full commit", url.requested()))?
        .to_string();
    let repo = Repository::open(cache, url)?;
    if repo.commit(&commit).is_none() {
        repo.fetch_one(&commit)?;
        if repo.commit(&commit).is_none() {
            repo.fetch_all()?;
        }
    }
    let made = make_archive(cache, &repo, url, &commit)?;
    if made.sha256 != sha256 {
        return Err(Failure::new(format!(
            "the archive of {} has sha256 {}, but the lock says {sha256}",
            url.locked(&commit),
            made.sha256
        ))
        .hint(
            "the repository's content for that commit changed (a rewritten history, or \
             `export-subst` attributes); check the source, then run `envlock resolve \
             --allow-changed-hashes`",
        )
        .into());
    }
    Ok(made.path)
}

fn not_found(url: &GitUrl) -> Failure {
    Failure::new(format!(
        "{} names no branch, tag or commit of {}",
        url.reference.as_deref().unwrap_or("HEAD"),
        url.display_repository()
    ))
    .hint("check the ref after `@` in the requirement")
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A bare clone in the cache, and how to reach its remote.
struct Repository {
    dir: PathBuf,
    url: GitUrl,
}

impl Repository {
    fn open(cache: &Path, url: &GitUrl) -> Result<Repository> {
        let key = &crate::util::sha256_hex(url.display_repository().as_bytes())[..32];
        let dir = cache.join("git/db").join(key);
        if !dir.join("HEAD").is_file() {
            crate::util::fs::create_cache_dir(&cache.join("git/db"))?;
            // Made beside and renamed, so a concurrent run never sees half a repository.
            let tmp = tempfile::Builder::new()
                .prefix(".init-")
                .tempdir_in(cache.join("git/db"))?;
            // `--shared=0600`: git makes the repository's files 0600 and its directories 0700
            // whatever the umask, private like the rest of the cache.
            run(Command::new("git")
                .args(["init", "--bare", "--quiet", "--shared=0600"])
                .arg(tmp.path()))
            .map_err(|e| anyhow::anyhow!("git init: {e}"))?;
            let tmp = tmp.keep();
            if std::fs::rename(&tmp, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
        }
        Ok(Repository {
            dir,
            url: url.clone(),
        })
    }

    /// `git` in the bare repository, with the remote's credentials as a header.
    fn git(&self) -> Command {
        let mut cmd = git_for(&self.url);
        cmd.arg("--git-dir").arg(&self.dir);
        cmd
    }

    /// The remote as git is given it.
    fn remote(&self) -> String {
        remote_of(&self.url)
    }

    fn fetch_all(&self) -> Result<()> {
        let mut cmd = self.git();
        cmd.args(["fetch", "--quiet", "--force", "--prune", "--no-tags", "--"])
            .arg(self.remote())
            .args([
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
                "+HEAD:refs/remotes/origin/HEAD",
            ]);
        self.run_fetch(&mut cmd)
    }

    fn fetch_one(&self, reference: &str) -> Result<()> {
        let mut cmd = self.git();
        cmd.args(["fetch", "--quiet", "--force", "--"])
            .arg(self.remote())
            .arg(reference);
        self.run_fetch(&mut cmd)
    }

    /// Runs a `git fetch`, then closes what it wrote with the umask's modes (`FETCH_HEAD`, which
    /// `--shared=0600` leaves alone; anything in a repository an older envlock made).
    fn run_fetch(&self, cmd: &mut Command) -> Result<()> {
        let fetched = run(cmd).map(|_| ()).map_err(|e| self.fetch_error(&e));
        crate::util::fs::restrict_cache_tree(&self.dir);
        fetched
    }

    fn fetch_error(&self, stderr: &str) -> anyhow::Error {
        Failure::new(format!(
            "could not fetch {}: {}",
            self.url.display_repository(),
            redact::text(stderr.trim())
        ))
        .hint(
            "check the URL and that git can reach it from here (credentials through netrc, a \
             git credential helper or an ssh key)",
        )
        .into()
    }

    /// The commit `reference` names here, if any.
    fn commit(&self, reference: &str) -> Option<String> {
        if reference.starts_with('-') {
            return None;
        }
        let mut cmd = self.git();
        cmd.args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{reference}^{{commit}}"));
        let out = run(&mut cmd).ok()?;
        let commit = out.trim().to_string();
        is_full_commit(&commit).then_some(commit)
    }

    /// The commit a requested ref names after a fetch: a tag, a branch, or a commit id.
    fn resolve(&self, reference: Option<&str>) -> Option<String> {
        match reference {
            None => self.commit("refs/remotes/origin/HEAD"),
            Some(r) => self
                .commit(&format!("refs/tags/{r}"))
                .or_else(|| self.commit(&format!("refs/remotes/origin/{r}")))
                .or_else(|| {
                    (r.len() >= 7 && is_hex(r))
                        .then(|| self.commit(r))
                        .flatten()
                }),
        }
    }
}

/// `git` for `url`'s remote: never prompting, with an http(s) URL's user info as a header.
fn git_for(url: &GitUrl) -> Command {
    let mut cmd = Command::new("git");
    // Never ask on a terminal: a missing credential is an error, not a hang.
    cmd.env("GIT_TERMINAL_PROMPT", "0");
    if std::env::var_os("GIT_SSH_COMMAND").is_none() {
        cmd.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    }
    let repo = &url.repository;
    if matches!(repo.scheme(), "http" | "https") && !repo.username().is_empty() {
        let user = percent_encoding::percent_decode_str(repo.username()).decode_utf8_lossy();
        let password = repo
            .password()
            .map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy())
            .unwrap_or_default();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        cmd.env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env(
                "GIT_CONFIG_VALUE_0",
                format!("Authorization: Basic {token}"),
            );
    }
    cmd
}

/// The remote as git is given it: without user info for http(s) (that goes in a header).
fn remote_of(url: &GitUrl) -> String {
    let mut remote = url.repository.clone();
    if matches!(remote.scheme(), "http" | "https") {
        let _ = remote.set_username("");
        let _ = remote.set_password(None);
    }
    remote.to_string()
}

/// The commit `url`'s ref names on its remote now (`git ls-remote`; a tag's commit, not the tag
/// object), for `check --git-refs`; `None` when the remote has no such ref. A full commit id
/// names itself. Blocking, and the one network access of `check`.
pub fn remote_commit(url: &GitUrl) -> Result<Option<String>> {
    let reference = url.reference.as_deref().unwrap_or("HEAD");
    if is_full_commit(reference) {
        return Ok(Some(reference.to_string()));
    }
    let mut cmd = git_for(url);
    cmd.args(["ls-remote", "--"]).arg(remote_of(url));
    let out = run(&mut cmd).map_err(|e| {
        Failure::new(format!(
            "could not ask {} for its refs: {}",
            url.display_repository(),
            redact::text(e.trim())
        ))
        .hint(
            "check that git can reach the repository from here, or run `check` without --git-refs",
        )
    })?;
    let refs: Vec<(&str, &str)> = out
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(sha, name)| (name, sha))
        .collect();
    let find = |name: &str| {
        refs.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, sha)| sha.to_string())
    };
    Ok(if reference == "HEAD" {
        find("HEAD")
    } else {
        find(&format!("refs/tags/{reference}^{{}}"))
            .or_else(|| find(&format!("refs/tags/{reference}")))
            .or_else(|| find(&format!("refs/heads/{reference}")))
    })
}

/// Runs `cmd`; its stdout, or its stderr as the error.
fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Archives `commit` (its `#subdirectory=`) as described in the module docs, into the cache.
fn make_archive(cache: &Path, repo: &Repository, url: &GitUrl, commit: &str) -> Result<Archive> {
    let time = run(repo.git().args(["show", "-s", "--format=%ct", commit]))
        .map_err(|e| anyhow::anyhow!("git show {commit}: {e}"))?;
    let time: u64 = time.trim().parse().unwrap_or(0);
    let mut cmd = repo.git();
    cmd.args(["archive", "--format=tar", commit]);
    if let Some(sub) = &url.subdirectory {
        cmd.arg("--").arg(sub);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run git: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Failure::new(format!(
            "could not archive {}: {}",
            url.locked(commit),
            redact::text(stderr.trim())
        ))
        .hint("check that the `#subdirectory=` exists in that commit")
        .into());
    }
    // Not named after the project: the name is known only from the metadata inside.
    let prefix = format!("source-{}", &commit[..12]);
    let (bytes, files) = normalize(&out.stdout, url.subdirectory.as_deref(), &prefix, time)?;
    if files == 0 {
        return Err(Failure::new(format!(
            "{} holds no files{}",
            url.locked(commit),
            url.subdirectory
                .as_deref()
                .map(|s| format!(" under `{s}`"))
                .unwrap_or_default()
        ))
        .hint("check the `#subdirectory=` of the requirement")
        .into());
    }
    let sha256 = crate::util::sha256_hex(&bytes);
    let path = archive_path(cache, &sha256);
    if !path.is_file() {
        crate::util::fs::write_cache(&path, &bytes)?;
    }
    Ok(Archive {
        commit: commit.to_string(),
        sha256,
        path,
    })
}

/// git's tar of a commit → the archive envlock installs: the entries under `subdirectory` (all
/// without one), moved under `prefix/`, with `time`, owner 0 and modes 0644/0755. Returns the
/// archive and how many files it holds.
fn normalize(
    tar_bytes: &[u8],
    subdirectory: Option<&str>,
    prefix: &str,
    time: u64,
) -> Result<(Vec<u8>, usize)> {
    let mut input = tar::Archive::new(tar_bytes);
    let mut output = tar::Builder::new(Vec::new());
    output.follow_symlinks(false);
    let mut files = 0;
    let mut dir_header = header(tar::EntryType::Directory, 0o755, time);
    output.append_data(&mut dir_header, format!("{prefix}/"), std::io::empty())?;
    for entry in input.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir() || kind.is_symlink()) {
            continue; // pax headers, and anything git would not write
        }
        let path = entry.path()?.to_string_lossy().into_owned();
        let relative = match subdirectory {
            Some(sub) => match path.strip_prefix(sub).map(|r| r.trim_start_matches('/')) {
                Some(rest) if path.len() > sub.len() && path.as_bytes()[sub.len()] == b'/' => {
                    rest.to_string()
                }
                _ => continue,
            },
            None => path,
        };
        let relative = relative.trim_end_matches('/');
        if relative.is_empty() {
            continue;
        }
        let target = format!("{prefix}/{relative}");
        if kind.is_dir() {
            let mut h = header(tar::EntryType::Directory, 0o755, time);
            output.append_data(&mut h, format!("{target}/"), std::io::empty())?;
        } else if kind.is_symlink() {
            let link = entry
                .link_name()?
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut h = header(tar::EntryType::Symlink, 0o777, time);
            output.append_link(&mut h, &target, &link)?;
            files += 1;
        } else {
            let mode = if entry.header().mode()? & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            let mut h = header(tar::EntryType::Regular, mode, time);
            h.set_size(data.len() as u64);
            output.append_data(&mut h, &target, data.as_slice())?;
            files += 1;
        }
    }
    Ok((output.into_inner()?, files))
}

fn header(kind: tar::EntryType, mode: u32, time: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_mtime(time);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(0);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_come_apart_and_lock_without_credentials() {
        let url = Url::parse(
            "git+https://u:s3cret@git.example/org/repo.git@v1.2#subdirectory=libs/a&egg=a",
        )
        .unwrap();
        let git = GitUrl::parse(&url).unwrap();
        assert_eq!(git.reference.as_deref(), Some("v1.2"));
        assert_eq!(git.subdirectory.as_deref(), Some("libs/a"));
        assert_eq!(git.display_repository(), "https://git.example/org/repo.git");
        let commit = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            git.locked(commit),
            format!("git+https://git.example/org/repo.git@{commit}#subdirectory=libs/a")
        );
        let locked = GitUrl::parse(&Url::parse(&git.locked(commit)).unwrap()).unwrap();
        assert_eq!(locked.locked_commit(), Some(commit));
        for bad in [
            "git+ext::sh -c touch% /tmp/x",
            "git+fd::17",
            "git+https://h.example/r@--upload-pack=touch",
        ] {
            if let Ok(url) = Url::parse(bad) {
                assert!(GitUrl::parse(&url).is_err(), "{bad}");
            }
        }
        let ssh = GitUrl::parse(&Url::parse("git+ssh://git@github.com/o/r").unwrap()).unwrap();
        assert_eq!(ssh.reference, None);
        assert_eq!(ssh.requested(), "git+ssh://git@github.com/o/r");
    }

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
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        git(dir.path(), &["config", "user.email", "t@example.com"]);
        git(dir.path(), &["config", "user.name", "t"]);
        std::fs::create_dir_all(dir.path().join("sub/pkg")).unwrap();
        std::fs::write(
            dir.path().join("sub/pyproject.toml"),
            "[project]\nname = \"sub\"\nversion = \"1.0\"\ndependencies = [\"six\"]\n\
             [project.optional-dependencies]\nx = [\"rich; python_version > '3'\"]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("sub/pkg/__init__.py"), "").unwrap();
        std::fs::write(dir.path().join("README"), "top\n").unwrap();
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-q", "-m", "one"]);
        git(dir.path(), &["tag", "v1"]);
        dir
    }

    #[test]
    fn a_tag_resolves_to_its_commit_and_archives_reproducibly() {
        let origin = repo();
        let cache = tempfile::tempdir().unwrap();
        let url = Url::parse(&format!(
            "git+file://{}@v1#subdirectory=sub",
            origin.path().display()
        ))
        .unwrap();
        let git_url = GitUrl::parse(&url).unwrap();
        let a = archive(cache.path(), &git_url, false).unwrap();
        assert_eq!(a.commit, git(origin.path(), &["rev-parse", "v1"]));
        // Made again in another cache, by another clone: the same bytes.
        let other = tempfile::tempdir().unwrap();
        let b = archive(other.path(), &git_url, false).unwrap();
        assert_eq!(a.sha256, b.sha256);
        let bytes = std::fs::read(&a.path).unwrap();
        let mut names: Vec<String> = tar::Archive::new(bytes.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let prefix = format!("source-{}", &a.commit[..12]);
        assert_eq!(
            names,
            [
                format!("{prefix}/"),
                format!("{prefix}/pkg/"),
                format!("{prefix}/pkg/__init__.py"),
                format!("{prefix}/pyproject.toml"),
            ]
        );
        let pyproject =
            crate::solve::pypi::metadata::sdist_top_file("a.tar", &bytes, "pyproject.toml")
                .unwrap();
        let metadata = crate::solve::pypi::metadata::pyproject_metadata(&pyproject, None).unwrap();
        assert!(metadata.contains("Name: sub\nVersion: 1.0\n"), "{metadata}");
        assert!(metadata.contains("Requires-Dist: six\n"), "{metadata}");
        assert!(
            metadata.contains("Requires-Dist: rich ; (python_version > '3') and extra == \"x\"\n"),
            "{metadata}"
        );

        // A moved tag: the next archive is of the new commit.
        std::fs::write(origin.path().join("sub/pkg/__init__.py"), "X = 1\n").unwrap();
        git(origin.path(), &["commit", "-qam", "two"]);
        git(origin.path(), &["tag", "-f", "v1"]);
        let moved = archive(cache.path(), &git_url, false).unwrap();
        assert_ne!(moved.commit, a.commit);
        // The locked commit is made again from the cache's clone when its archive is gone.
        std::fs::remove_file(&a.path).unwrap();
        let locked = GitUrl::parse(&Url::parse(&git_url.locked(&a.commit)).unwrap()).unwrap();
        let path = locked_archive(cache.path(), &locked, &a.sha256).unwrap();
        assert_eq!(
            crate::util::sha256_hex(&std::fs::read(path).unwrap()),
            a.sha256
        );
        // Offline, a cached ref resolves and an unknown one is named.
        let missing = GitUrl::parse(
            &Url::parse(&format!("git+file://{}@nope", origin.path().display())).unwrap(),
        )
        .unwrap();
        let e = archive(cache.path(), &missing, true).unwrap_err();
        assert!(e.to_string().contains("--offline forbids"), "{e}");
        let e = archive(cache.path(), &missing, false).unwrap_err();
        assert!(
            e.to_string().contains("names no branch, tag or commit"),
            "{e}"
        );
    }
}
