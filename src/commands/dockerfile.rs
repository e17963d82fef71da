//! `envlock dockerfile`: lock → Dockerfile and the files it copies. Never solves.
//!
//! The base image is, in order: `--base`, the base recorded in the lockfile by an earlier run
//! (so rebuilds stay on it), or the flavor's default. A base given without a digest is pinned
//! through its registry, and the pinned base is recorded in the lockfile so `envlock check` can
//! see it. Every file is written to a temporary file and renamed into place.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::{
    check::{self, Report},
    inputs::InputOptions,
    lock::{self, DockerMeta, EnvlockMeta},
    net::{
        self,
        oci::{self, ImageRef},
    },
    render::{
        ExplicitHash, GitArchive, base_libc,
        dockerfile::{self, Entrypoint, Flavor, Preset, Runtime},
        plan::{DEFAULT_RUNTIME_BASE, DockerfileRequest, RenderedFile, choose_base, render_all},
    },
    solve::pypi::git,
    util::error::Failure,
    util::fs::write_atomic,
};

/// What the command line gives `envlock dockerfile`. Options left `None` (or empty) keep the
/// values the last run recorded in the lock, so a plain re-run renders the same image; `reset`
/// drops the recorded values; what is recorded nowhere takes the default.
#[derive(Debug, Clone, Default)]
pub struct DockerfileFlags {
    /// The lockfile to render from.
    pub lockfile: PathBuf,
    /// Where the Dockerfile goes [default: `Dockerfile`].
    pub output: Option<PathBuf>,
    /// The directory beside it for the files it copies [default: `envlock`].
    pub dir: Option<String>,
    /// The base image; a tag is pinned to its digest.
    pub base: Option<String>,
    /// [default: conda].
    pub flavor: Option<Flavor>,
    /// [default: python].
    pub preset: Option<Preset>,
    /// The command, overriding the preset's.
    pub cmd: Option<String>,
    /// Ports to EXPOSE, overriding the preset's.
    pub ports: Vec<u16>,
    /// Commands run in the env after the install.
    pub run: Vec<String>,
    /// [default: tini].
    pub entrypoint: Option<Entrypoint>,
    /// [default: sha256].
    pub explicit_hash: Option<ExplicitHash>,
    /// `--editable`: keep the `-e` local projects editable installs in the image.
    pub editable: bool,
    /// [default: single].
    pub runtime: Option<Runtime>,
    /// The slim runtime's base; a tag is pinned to its digest [default: debian:bookworm-slim].
    pub runtime_base: Option<String>,
    /// Ignore the recorded options.
    pub reset: bool,
    /// Refuse a lock that no longer satisfies the inputs found beside it.
    pub locked: bool,
    /// Render even when a locked sdist needs a compiler the base is known to lack.
    pub allow_compile: bool,
    /// The cache `resolve` wrote git archives to [default: the user cache directory].
    pub cache_dir: Option<PathBuf>,
}

/// What `envlock dockerfile` did.
pub enum Rendered {
    /// `--locked` and the lock no longer satisfies the inputs: nothing was written.
    Stale(Report),
    /// The files were written.
    Written(DockerfileOutcome),
}

/// `envlock dockerfile`: `--locked` check, then the request from the flags and the recorded
/// options, then [`dockerfile`].
pub async fn run(flags: DockerfileFlags) -> Result<Rendered> {
    if flags.locked {
        // The inputs are found as `envlock check` finds them (./environment.yml, ...).
        let options = InputOptions {
            lockfile: Some(flags.lockfile.clone()),
            ..InputOptions::default()
        };
        // `dockerfile` is not given resolve's options (-p, --exclude-newer, ...): the check takes
        // them from the lock, so what remains is the inputs' own (channels, `platforms:`, ...).
        let report = crate::commands::check::check(&options)?;
        let stale: Vec<_> = report
            .findings
            .into_iter()
            .filter(|f| f.fix() == check::Fix::Resolve)
            .collect();
        if !stale.is_empty() {
            return Ok(Rendered::Stale(Report {
                lockfile: report.lockfile,
                findings: stale,
            }));
        }
    }
    let mut lock = lock::read(&flags.lockfile)?;
    let meta = match EnvlockMeta::read(&lock) {
        Ok(meta) => meta,
        // `--reset` rewrites what `envlock dockerfile` recorded, even when it does not read.
        Err(_) if flags.reset => {
            DockerMeta::forget(&mut lock);
            EnvlockMeta::read(&lock)?
        }
        Err(e) => return Err(e),
    };
    let allow_compile = flags.allow_compile;
    let cache_dir = flags.cache_dir.clone();
    let request = request(flags, &meta)?;
    if !allow_compile {
        let base = choose_base(&lock, meta.docker.as_ref(), &request)?;
        crate::render::plan::refuse_compiling_sdists(&lock, &meta, &base)?;
    }
    Ok(Rendered::Written(
        dockerfile(request, lock, cache_dir).await?,
    ))
}

/// The request `flags` make, with the options recorded in `meta` for what they leave out.
fn request(flags: DockerfileFlags, meta: &EnvlockMeta) -> Result<DockerfileRequest> {
    let recorded = if flags.reset {
        None
    } else {
        DockerfileRequest::recorded(meta.docker.as_ref(), &flags.lockfile)
    };
    let recorded = recorded.as_ref();
    let or_recorded = |list: Vec<String>, get: fn(&DockerfileRequest) -> &Vec<String>| {
        if list.is_empty() {
            recorded.map(|r| get(r).clone()).unwrap_or_default()
        } else {
            list
        }
    };
    let output = match (flags.output, recorded) {
        (Some(output), _) => output,
        (None, Some(r)) => trusted_output(&r.output, &flags.lockfile)?,
        (None, None) => PathBuf::from("Dockerfile"),
    };
    let runtime = flags
        .runtime
        .or(recorded.map(|r| r.runtime))
        .unwrap_or(Runtime::Single);
    let runtime_base = match runtime {
        Runtime::Single => {
            if flags.runtime_base.is_some() {
                return Err(
                    Failure::new("--runtime-base is the base of the slim runtime")
                        .hint("add `--runtime slim`, or drop --runtime-base")
                        .into(),
                );
            }
            None
        }
        Runtime::Slim => flags
            .runtime_base
            .or_else(|| recorded.and_then(|r| r.runtime_base.clone())),
    };
    let flavor = flags
        .flavor
        .or(recorded.map(|r| r.flavor))
        .unwrap_or(Flavor::Conda);
    let entrypoint = flags
        .entrypoint
        .or(recorded.map(|r| r.entrypoint))
        .unwrap_or(Entrypoint::Tini);
    if runtime == Runtime::Slim {
        crate::render::plan::refuse_slim(flavor, entrypoint)?;
    }
    Ok(DockerfileRequest {
        runtime,
        runtime_base,
        output,
        dir: flags
            .dir
            .or_else(|| recorded.map(|r| r.dir.clone()))
            .unwrap_or_else(|| "envlock".to_string()),
        base: flags.base,
        flavor,
        preset: flags
            .preset
            .or(recorded.map(|r| r.preset))
            .unwrap_or(Preset::Python),
        cmd: flags.cmd.or_else(|| recorded.and_then(|r| r.cmd.clone())),
        ports: if flags.ports.is_empty() {
            recorded.map(|r| r.ports.clone()).unwrap_or_default()
        } else {
            flags.ports
        },
        run: or_recorded(flags.run, |r| &r.run),
        entrypoint,
        explicit_hash: flags
            .explicit_hash
            .or(recorded.map(|r| r.explicit_hash))
            .unwrap_or(ExplicitHash::Sha256),
        editable: flags.editable || recorded.is_some_and(|r| r.editable),
        lockfile: flags.lockfile,
    })
}

/// The recorded Dockerfile path, once it is safe to write: the lock is untrusted input (it
/// arrives in pull requests), so a recorded path may not be absolute, and one that leaves the
/// lockfile's directory must name a Dockerfile envlock wrote. A path given with `-o` is the
/// user's own choice and is not checked.
fn trusted_output(recorded: &Path, lockfile: &Path) -> Result<PathBuf> {
    use std::path::Component;
    let refuse = |why: &str| -> anyhow::Error {
        Failure::new(format!(
            "{} records the Dockerfile path {:?}, which {why}; refusing to write there",
            lockfile.display(),
            recorded.display().to_string()
        ))
        .hint("pass `-o PATH` to say where the Dockerfile goes (the lockfile may come from someone else)")
        .into()
    };
    let lock_dir = lockfile.parent().unwrap_or(Path::new(""));
    let relative = recorded.strip_prefix(lock_dir).unwrap_or(recorded);
    if relative
        .components()
        .any(|c| matches!(c, Component::RootDir | Component::Prefix(_)))
    {
        return Err(refuse("is absolute"));
    }
    if relative.components().any(|c| c == Component::ParentDir) {
        let ours = std::fs::read_to_string(recorded).is_ok_and(|text| {
            text.lines()
                .take(3)
                .any(|l| l.starts_with("# Generated by envlock"))
        });
        if !ours {
            return Err(refuse(
                "is outside the lockfile's directory and not a Dockerfile envlock wrote",
            ));
        }
    }
    Ok(recorded.to_path_buf())
}

/// What [`dockerfile`] wrote.
pub struct DockerfileOutcome {
    /// The files written (an existing `.dockerignore` is left alone).
    pub written: Vec<PathBuf>,
    /// The pinned base image.
    pub base: ImageRef,
    /// Things the user should know (a preset command the lock does not provide).
    pub warnings: Vec<String>,
}

/// Renders and writes everything for `lock`, read by the caller from `request.lockfile`.
pub async fn dockerfile(
    mut request: DockerfileRequest,
    mut lock: rattler_conda_lock::LockFile,
    cache_dir: Option<PathBuf>,
) -> Result<DockerfileOutcome> {
    let mut meta = EnvlockMeta::read(&lock)?;
    let base = choose_base(&lock, meta.docker.as_ref(), &request)?;
    base_libc::check_base(
        &base,
        &base_libc::locked_glibc(&lock, &meta),
        &request.lockfile.display().to_string(),
    )?;
    // The base's architectures: from its registry when it is pinned now, else from its name.
    let (base, arches) = if base.digest.is_some() {
        (base, None)
    } else {
        oci::pin_with_architectures(&net::with_retries()?, base).await?
    };
    let arches = arches
        .or_else(|| oci::architecture_by_name(&base).map(|a| vec![a.to_string()]))
        .unwrap_or_default();
    dockerfile::refuse_unlocked_arch(
        &lock,
        &request.lockfile.display().to_string(),
        &base,
        &arches,
    )?;
    if request.runtime == Runtime::Slim {
        let runtime = ImageRef::parse(
            request
                .runtime_base
                .as_deref()
                .unwrap_or(DEFAULT_RUNTIME_BASE),
        )?;
        // The env runs on the runtime's C library, not the builder's.
        base_libc::check_base(
            &runtime,
            &base_libc::locked_glibc(&lock, &meta),
            &request.lockfile.display().to_string(),
        )?;
        let (runtime, arches) = if runtime.digest.is_some() {
            (runtime, None)
        } else {
            oci::pin_with_architectures(&net::with_retries()?, runtime)
                .await
                .map_err(as_runtime_base)?
        };
        let arches = arches
            .or_else(|| oci::architecture_by_name(&runtime).map(|a| vec![a.to_string()]))
            .unwrap_or_default();
        dockerfile::refuse_unlocked_arch(
            &lock,
            &request.lockfile.display().to_string(),
            &runtime,
            &arches,
        )
        .map_err(as_runtime_base)?;
        request.runtime_base = Some(runtime.to_string());
    }
    let files = render_all(&lock, &request, &base)?;

    let mut warnings = Vec::new();
    if let Some(missing) =
        dockerfile::missing_preset_package(&lock, request.preset, request.cmd.is_some())
    {
        warnings.push(format!(
            "the preset runs {missing}, which {} does not lock; add it to the inputs and run `envlock resolve`",
            request.lockfile.display()
        ));
    }

    // An archive the cache lacks is made again into the cache: one that cannot be used is the
    // error `resolve` gives, before any file is written.
    for file in &files {
        if let Some(archive) = &file.archive
            && !archive_in_place(&file.path, archive)
        {
            let cache = archive_cache(cache_dir.as_deref())?;
            if !git::archive_path(&cache.join("pypi"), &archive.sha256).is_file() {
                for dir in [cache.clone(), cache.join("pypi")] {
                    crate::util::fs::prepare_cache_dir(&dir)?;
                }
            }
        }
    }
    let mut written = Vec::new();
    for file in &files {
        if file.keep_existing && file.path.exists() {
            continue;
        }
        if let Some(parent) = file.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        if let Some(archive) = &file.archive {
            write_archive(&file.path, archive, cache_dir.as_deref())?;
            written.push(file.path.clone());
            continue;
        }
        write_atomic(&file.path, file.text.as_bytes())?;
        written.push(file.path.clone());
    }
    remove_stale(&files, &request)?;

    // Record the base (so rebuilds stay on it) and the options (so `check` can render what this
    // run rendered). The lock is rewritten only when they change.
    let docker = Some(DockerMeta {
        base: base.to_string(),
        flavor: request.flavor,
        options: Some(request.record()),
    });
    if meta.docker != docker {
        meta.docker = docker;
        meta.write(&mut lock);
        lock::write(&lock, &request.lockfile)?;
    }
    Ok(DockerfileOutcome {
        written,
        base,
        warnings,
    })
}

/// An error about a base, said of the slim runtime's base (its flag is `--runtime-base`).
fn as_runtime_base(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<Failure>() {
        Ok(mut f) => {
            f.message = f.message.replacen("the base ", "the runtime base ", 1);
            f.hint = f.hint.map(|h| h.replace("--base ", "--runtime-base "));
            f.into()
        }
        Err(e) => e,
    }
}

/// Removes generated files of platforms the lock no longer has (only envlock's own names).
/// Writes a git requirement's archive into `envlock/git/`: from the cache `resolve` made it in,
/// else made again from the repository (fetching the locked commit), checked against the lock.
fn write_archive(path: &Path, archive: &GitArchive, cache_dir: Option<&Path>) -> Result<()> {
    if archive_in_place(path, archive) {
        return Ok(());
    }
    let cache = archive_cache(cache_dir)?;
    let made = git::locked_archive(&cache.join("pypi"), &archive.url, &archive.sha256)?;
    let bytes = std::fs::read(made)?;
    if crate::util::sha256_hex(&bytes) != archive.sha256 {
        anyhow::bail!(
            "the cached archive of {} does not match the lock",
            archive.name
        );
    }
    write_atomic(path, &bytes)
}

/// Whether `path` holds `archive` already.
fn archive_in_place(path: &Path, archive: &GitArchive) -> bool {
    std::fs::read(path).is_ok_and(|bytes| crate::util::sha256_hex(&bytes) == archive.sha256)
}

/// The cache `resolve` made git archives in: `--cache-dir`, else the user's.
fn archive_cache(cache_dir: Option<&Path>) -> Result<PathBuf> {
    match cache_dir {
        Some(dir) => Ok(dir.to_path_buf()),
        None => dirs::cache_dir().map(|d| d.join("envlock")).ok_or_else(|| {
            Failure::new("no user cache directory")
                .hint("pass --cache-dir DIR")
                .into()
        }),
    }
}

fn remove_stale(files: &[RenderedFile], request: &DockerfileRequest) -> Result<()> {
    let context = request.output.parent().unwrap_or(Path::new(""));
    let dir = context.join(&request.dir);
    // Archives of commits the lock no longer holds (only envlock writes into envlock/git/).
    if let Ok(entries) = std::fs::read_dir(dir.join("git")) {
        for entry in entries.flatten() {
            let path = entry.path();
            let archive = path.extension().is_some_and(|e| e == "tar");
            if archive && !files.iter().any(|f| f.path == path) {
                std::fs::remove_file(&path)?;
            }
        }
    }
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // Only files envlock itself wrote: one of its names, starting with its header.
        let ours = ["linux-64", "linux-aarch64", "linux-ppc64le"]
            .iter()
            .any(|p| name == format!("conda-{p}.txt") || name == format!("pip-{p}.txt"))
            && std::fs::read_to_string(entry.path())
                .is_ok_and(|t| t.starts_with("# Generated by envlock"));
        if ours && !files.iter().any(|f| f.path == entry.path()) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
