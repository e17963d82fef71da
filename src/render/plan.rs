//! The plan of an image: which base, and every file `envlock dockerfile` writes, rendered in
//! memory from the lock and the options. Pure: pinning the base and writing files is
//! [`crate::commands::dockerfile`]'s work, and `check` renders the same plan to compare.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{
    ExplicitHash,
    dockerfile::{self, CONDA_PREFIX, Entrypoint, Flavor, Preset, Runtime},
};
use crate::{
    lock::{DockerMeta, DockerOptions},
    net::oci::ImageRef,
    util::{error::Failure, fs::relative_to, shell},
};

/// conda-forge's miniforge3 image, as a multi-platform index digest.
pub const DEFAULT_CONDA_BASE: &str = "condaforge/miniforge3:25.3.1-0@sha256:1e65803d646bf8503728001dddb5756f3e8235e0883c19b5a5ad1da85cff0905";

/// The slim runtime's default base (pinned through the registry like the base).
pub const DEFAULT_RUNTIME_BASE: &str = "debian:bookworm-slim";

/// Everything `envlock dockerfile` renders from, besides the lock.
pub struct DockerfileRequest {
    /// The lockfile the files are rendered from.
    pub lockfile: PathBuf,
    /// Where the Dockerfile goes.
    pub output: PathBuf,
    /// The directory of the generated files, relative to the Dockerfile's.
    pub dir: String,
    /// `--base`, or the recorded base; `None` leaves the choice to [`choose_base`].
    pub base: Option<String>,
    /// How the environment gets into the image.
    pub flavor: Flavor,
    /// What the image runs.
    pub preset: Preset,
    /// `--cmd`, overriding the preset's command.
    pub cmd: Option<String>,
    /// `--port`s, overriding the preset's.
    pub ports: Vec<u16>,
    /// `--run` steps, in order.
    pub run: Vec<String>,
    /// How the image starts its command.
    pub entrypoint: Entrypoint,
    /// Which hash the `@EXPLICIT` files carry.
    pub explicit_hash: ExplicitHash,
    /// `--editable`: local projects named with `-e` stay editable installs.
    pub editable: bool,
    /// `--runtime`: one stage, or a builder and a slim runtime stage (conda flavor).
    pub runtime: Runtime,
    /// The slim runtime's base, pinned before [`render_all`] (only with `Runtime::Slim`).
    pub runtime_base: Option<String>,
}

impl DockerfileRequest {
    /// The options to record in the lock, so `check` can render what this request renders.
    pub fn record(&self) -> DockerOptions {
        let lock_dir = self.lockfile.parent().unwrap_or(Path::new(""));
        DockerOptions {
            output: relative_to(&self.output, lock_dir),
            dir: self.dir.clone(),
            flavor: self.flavor,
            preset: self.preset,
            cmd: self.cmd.clone(),
            ports: self.ports.clone(),
            run: self.run.clone(),
            entrypoint: self.entrypoint,
            explicit_hash: self.explicit_hash,
            editable: self.editable,
            runtime: self.runtime,
            runtime_base: self.runtime_base.clone(),
        }
    }

    /// The request an earlier `envlock dockerfile` run recorded (`docker`, read from the lock at
    /// `lockfile`), if it recorded its options.
    pub fn recorded(docker: Option<&DockerMeta>, lockfile: &Path) -> Option<DockerfileRequest> {
        let docker = docker?;
        let r = docker.options.clone()?;
        let lock_dir = lockfile.parent().unwrap_or(Path::new(""));
        Some(DockerfileRequest {
            lockfile: lockfile.to_path_buf(),
            output: lock_dir.join(&r.output),
            dir: r.dir,
            base: Some(docker.base.clone()),
            flavor: r.flavor,
            preset: r.preset,
            cmd: r.cmd,
            ports: r.ports,
            run: r.run,
            entrypoint: r.entrypoint,
            explicit_hash: r.explicit_hash,
            editable: r.editable,
            runtime: r.runtime,
            runtime_base: r.runtime_base,
        })
    }
}

/// One rendered file: where it goes and what it holds.
pub struct RenderedFile {
    /// Where the file goes.
    pub path: PathBuf,
    /// What it holds.
    pub text: String,
    /// `.dockerignore` is only written when absent: it is the user's file once it exists.
    pub keep_existing: bool,
    /// For the archive of a git requirement's commit (`text` is empty): what it must be. The
    /// render is pure, so `envlock dockerfile` makes the bytes and `check` compares the hash.
    pub archive: Option<super::GitArchive>,
}

/// The base to use before pinning: `--base`, the one `recorded` in the lock (if it is for the
/// same flavor), or the flavor's default.
pub fn choose_base(
    lock: &rattler_conda_lock::LockFile,
    recorded: Option<&DockerMeta>,
    request: &DockerfileRequest,
) -> Result<ImageRef> {
    if let Some(base) = &request.base {
        return ImageRef::parse(base);
    }
    let recorded = recorded
        .filter(|d| d.flavor == request.flavor)
        .map(|d| ImageRef::parse(&d.base))
        .transpose()?;
    match request.flavor {
        Flavor::Conda => Ok(recorded.unwrap_or(ImageRef::parse(DEFAULT_CONDA_BASE)?)),
        Flavor::Venv => {
            let python = lock
                .package
                .iter()
                .find(|p| {
                    p.name == "python"
                        && dockerfile::linux_platforms(lock).contains(&p.platform.as_str())
                })
                .ok_or_else(|| {
                    Failure::new(
                        "the lock has no python, so the venv flavor cannot pick a python image",
                    )
                    .hint("pass --base python:X.Y-slim@sha256:<digest>")
                })?;
            let minor = python
                .version
                .split('.')
                .take(2)
                .collect::<Vec<_>>()
                .join(".");
            // The recorded base is kept only while it is still for the locked python: wheels
            // for 3.12 do not install on a 3.11 image.
            let same_python = |image: &ImageRef| {
                image
                    .tag
                    .as_deref()
                    .is_some_and(|t| t == minor || t.starts_with(&format!("{minor}-")))
            };
            match recorded {
                Some(image) if same_python(&image) => Ok(image),
                _ => ImageRef::parse(&format!("python:{minor}-slim")),
            }
        }
    }
}

/// Renders every file for `lock` with the pinned `base`.
pub fn render_all(
    lock: &rattler_conda_lock::LockFile,
    request: &DockerfileRequest,
    base: &ImageRef,
) -> Result<Vec<RenderedFile>> {
    let lockfile_name = request.lockfile.file_name().map_or_else(
        || "conda-lock.yml".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let cmd = request.cmd.as_deref().map(parse_cmd).transpose()?;
    let meta = crate::lock::EnvlockMeta::read(lock)?;
    let runtime = slim_runtime(request)?;
    let options = dockerfile::Options {
        flavor: request.flavor,
        base: base.clone(),
        preset: request.preset,
        cmd,
        ports: (!request.ports.is_empty()).then(|| request.ports.clone()),
        run: request.run.clone(),
        entrypoint: request.entrypoint,
        dir: request.dir.clone(),
        lockfile: lockfile_name.clone(),
        local_projects: Vec::new(),
        init: meta.init,
        runtime,
        // The cutoff, not the time of rendering: the same lock gives the same Dockerfile.
        source_date_epoch: meta.exclude_newer.map_or(0, |t| t.as_second().max(0)),
    };
    let context = request
        .output
        .parent()
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let mut options = options;
    options.local_projects = local_projects(lock, request, &context)?;
    let dir = context.join(&request.dir);
    let mut files = vec![RenderedFile {
        path: request.output.clone(),
        text: dockerfile::render(lock, &options)?,
        keep_existing: false,
        archive: None,
    }];
    for platform in dockerfile::linux_platforms(lock) {
        if request.flavor == Flavor::Conda {
            files.push(RenderedFile {
                path: dir.join(format!("conda-{platform}.txt")),
                text: super::explicit(lock, platform, &lockfile_name, request.explicit_hash),
                keep_existing: false,
                archive: None,
            });
        }
        files.push(RenderedFile {
            path: dir.join(format!("pip-{platform}.txt")),
            text: super::pip_requirements(lock, platform, &lockfile_name),
            keep_existing: false,
            archive: None,
        });
        // The build set: for the sdists built from it, and for local projects built from it
        // (then without a sdist file when no sdist is).
        let sdists = !super::built_sdists(lock, platform).is_empty();
        if sdists || super::any_local_build_pinned(lock) {
            let mut sets = vec![("build", super::PipSet::Build)];
            if sdists {
                sets.push(("sdist", super::PipSet::Sdists));
            }
            for (name, set) in sets {
                files.push(RenderedFile {
                    path: dir.join(format!("pip-{name}-{platform}.txt")),
                    text: super::pip_file(lock, platform, &lockfile_name, set),
                    keep_existing: false,
                    archive: None,
                });
            }
        }
    }
    for archive in super::git_archives(lock)? {
        files.push(RenderedFile {
            path: dir.join(&archive.file),
            text: String::new(),
            keep_existing: false,
            archive: Some(archive),
        });
    }
    if request.flavor == Flavor::Conda {
        files.push(RenderedFile {
            path: dir.join("entrypoint.sh"),
            text: super::entrypoint(lock, &lockfile_name, CONDA_PREFIX),
            keep_existing: false,
            archive: None,
        });
    }
    files.push(RenderedFile {
        path: context.join(".dockerignore"),
        text: super::dockerignore(lock, &lockfile_name),
        keep_existing: true,
        archive: None,
    });
    Ok(files)
}

/// The slim runtime's pinned base, or `None` for one stage. The combinations a slim runtime
/// cannot run are refused here, so `dockerfile` and `check` agree.
pub fn slim_runtime(request: &DockerfileRequest) -> Result<Option<ImageRef>> {
    if request.runtime == Runtime::Single {
        if request.runtime_base.is_some() {
            return Err(
                Failure::new("--runtime-base is the base of the slim runtime")
                    .hint("add `--runtime slim`, or drop --runtime-base")
                    .into(),
            );
        }
        return Ok(None);
    }
    refuse_slim(request.flavor, request.entrypoint)?;
    let base = ImageRef::parse(
        request
            .runtime_base
            .as_deref()
            .unwrap_or(DEFAULT_RUNTIME_BASE),
    )?;
    if base.digest.is_none() {
        // `envlock dockerfile` pins it before rendering; a lock may record it unpinned.
        return Err(Failure::new(format!(
            "the slim runtime's base {base} is not pinned to a digest"
        ))
        .hint("run `envlock dockerfile` to pin and record it")
        .into());
    }
    Ok(Some(base))
}

/// Refuses what the slim runtime cannot be: the venv flavor (already a slim python image), and
/// `--entrypoint conda-run` (the runtime has no conda).
pub fn refuse_slim(flavor: Flavor, entrypoint: Entrypoint) -> Result<()> {
    if flavor == Flavor::Venv {
        return Err(Failure::new(
            "--runtime slim is for the conda flavor; the venv flavor is already a python:X.Y-slim image",
        )
        .hint("drop --runtime slim (or pass --runtime single), or use --flavor conda")
        .into());
    }
    if entrypoint == Entrypoint::CondaRun {
        return Err(Failure::new(
            "--runtime slim has no conda in the image, so `--entrypoint conda-run` cannot run",
        )
        .hint("use --entrypoint tini (the default), or --runtime single")
        .into());
    }
    Ok(())
}

/// The lock's local projects as the Dockerfile installs them: each path relative to the build
/// context (the Dockerfile's directory), which must contain it.
fn local_projects(
    lock: &rattler_conda_lock::LockFile,
    request: &DockerfileRequest,
    context: &Path,
) -> Result<Vec<dockerfile::LocalInstall>> {
    let meta = crate::lock::EnvlockMeta::read(lock)?;
    let lock_dir = request.lockfile.parent().unwrap_or(Path::new(""));
    let mut installs = Vec::new();
    for project in &meta.local_projects {
        let mut path = relative_to(&lock_dir.join(&project.path), context);
        if path.is_empty() {
            path = ".".to_string();
        }
        if crate::lock::meta::check_local_path(&path).is_err() {
            return Err(Failure::new(format!(
                "the local project `{}` ({} from the lockfile's directory) is outside the \
                 Dockerfile's directory, the build context",
                project.name, project.path
            ))
            .hint("write the Dockerfile where the build context contains the project (`-o`)")
            .into());
        }
        installs.push(dockerfile::LocalInstall {
            name: project.name.clone(),
            path,
            editable: project.editable && request.editable,
            pinned_build: super::local_build_pinned(lock, &meta, &project.name),
        });
    }
    Ok(installs)
}

/// conda packages that put a C compiler into the env.
const CONDA_COMPILERS: &[&str] = &[
    "gcc",
    "gxx",
    "c-compiler",
    "cxx-compiler",
    "compilers",
    "clang",
    "clangxx",
];

/// Whether `base` is a known image without a C compiler: the `python:*-slim`/`-alpine` images
/// and conda-forge's miniforge/mambaforge. Other images (the full `python:X.Y`, a user's own)
/// are trusted to have what they need.
fn base_lacks_compiler(base: &ImageRef) -> bool {
    let name = base.repository.rsplit('/').next().unwrap_or_default();
    let tag = base.tag.as_deref().unwrap_or_default();
    match name {
        "python" => tag.contains("slim") || tag.contains("alpine"),
        "miniforge3" | "mambaforge" | "micromamba" => true,
        _ => false,
    }
}

/// Refuses, before anything is written, a lock whose sdists need a compiler that `base` lacks
/// and the env does not lock (`gcc`, `gxx`, `c-compiler`, `compilers`, `gcc_linux-64`, ...).
/// A record counts only while the env itself locks that sdist: a build-set entry of the same
/// name and version (`category: build`) is not the sdist the record describes.
pub fn refuse_compiling_sdists(
    lock: &rattler_conda_lock::LockFile,
    meta: &crate::lock::EnvlockMeta,
    base: &ImageRef,
) -> Result<()> {
    if !base_lacks_compiler(base) {
        return Ok(());
    }
    let mut needs = Vec::new();
    for platform in dockerfile::linux_platforms(lock) {
        let has_compiler = lock.package.iter().any(|p| {
            p.platform == platform
                && p.manager == rattler_conda_lock::Manager::Conda
                && (CONDA_COMPILERS.contains(&p.name.as_str())
                    || p.name.starts_with("gcc_linux-")
                    || p.name.starts_with("gxx_linux-")
                    || p.name.starts_with("clang_linux-"))
        });
        if has_compiler {
            continue;
        }
        let Some(records) = meta.pypi_build.get(platform) else {
            continue;
        };
        for (name, record) in records {
            let locked = lock.package.iter().any(|p| {
                p.platform == platform
                    && crate::lock::is_env_pip(p)
                    && &p.name == name
                    && p.version == record.version
            });
            if let (true, Some(why)) = (locked, &record.compiler) {
                needs.push(format!("{name} {} ({platform}: {why})", record.version));
            }
        }
    }
    if needs.is_empty() {
        return Ok(());
    }
    Err(Failure::new(format!(
        "the image builds {} from source, which needs a C compiler, and the base {} has none",
        needs.join(", "),
        base
    ))
    .hint(
        "add `--prefer-binary` to the requirements (or pin a version with a wheel for the target) \
         and run `envlock resolve`; or add a compiler to the environment (`compilers` or \
         `c-compiler`); or pass a base that has one with `--base`; or `--allow-compile` if the \
         build needs none after all",
    )
    .into())
}

/// `--cmd`: a JSON array (`["gunicorn", "app:app"]`) or a command line split like a shell would
/// (quotes and backslashes), never run through a shell.
pub fn parse_cmd(text: &str) -> Result<Vec<String>> {
    let trimmed = text.trim();
    let words: Vec<String> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| {
            Failure::new(format!(
                "--cmd {text:?} is not a JSON array of strings: {e}"
            ))
        })?
    } else {
        shell::split(trimmed)
            .ok_or_else(|| Failure::new(format!("--cmd {text:?} has an unclosed quote")))?
    };
    if words.is_empty() {
        return Err(Failure::new("--cmd is empty")
            .hint("for example --cmd 'python -m myapp'")
            .into());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venv_request() -> DockerfileRequest {
        DockerfileRequest {
            lockfile: PathBuf::from("conda-lock.yml"),
            output: PathBuf::from("Dockerfile"),
            dir: "envlock".into(),
            base: None,
            flavor: Flavor::Venv,
            preset: Preset::Python,
            cmd: None,
            ports: vec![],
            run: vec![],
            entrypoint: Entrypoint::Tini,
            explicit_hash: ExplicitHash::Sha256,
            editable: false,
            runtime: Runtime::Single,
            runtime_base: None,
        }
    }

    fn recorded(base: &str) -> DockerMeta {
        DockerMeta {
            base: base.into(),
            flavor: Flavor::Venv,
            options: None,
        }
    }

    fn lock_with_python(version: &str) -> rattler_conda_lock::LockFile {
        let mut lock = rattler_conda_lock::LockFile::default();
        lock.metadata.platforms.push("linux-64".into());
        lock.package.push(rattler_conda_lock::Package {
            name: "python".into(),
            version: version.into(),
            manager: rattler_conda_lock::Manager::Conda,
            platform: "linux-64".into(),
            dependencies: Default::default(),
            url: "https://c.example/python.conda".into(),
            hash: Default::default(),
            source: None,
            build: None,
            category: "main".into(),
            optional: false,
        });
        lock
    }

    #[test]
    fn the_venv_base_follows_the_locked_python() {
        let base = format!("python:3.11-slim@sha256:{}", "1".repeat(64));
        let docker = recorded(&base);
        let base =
            choose_base(&lock_with_python("3.11.7"), Some(&docker), &venv_request()).unwrap();
        assert_eq!(
            base.to_string(),
            docker.base,
            "kept while the python matches"
        );
        let base =
            choose_base(&lock_with_python("3.12.1"), Some(&docker), &venv_request()).unwrap();
        assert_eq!(
            base.to_string(),
            "python:3.12-slim",
            "a new python needs a new base"
        );
    }

    #[test]
    fn only_an_env_sdist_that_compiles_is_refused_on_a_slim_base() {
        let base = ImageRef::parse("python:3.11-slim").unwrap();
        let mut meta = crate::lock::EnvlockMeta::default();
        meta.pypi_build
            .entry("linux-64".into())
            .or_default()
            .insert(
                "native".into(),
                crate::lock::SdistBuildRecord {
                    version: "1.0".into(),
                    requires: Some(vec![]),
                    unpinned: None,
                    compiler: Some("it has compiled sources (src/native.c)".into()),
                },
            );
        let with_native = |category: &str| {
            let mut lock = lock_with_python("3.11.7");
            lock.package.push(rattler_conda_lock::Package {
                name: "native".into(),
                version: "1.0".into(),
                manager: rattler_conda_lock::Manager::Pip,
                category: category.into(),
                url: "https://i.example/native-1.0.tar.gz".into(),
                ..lock.package[0].clone()
            });
            lock
        };
        let err = refuse_compiling_sdists(&with_native("main"), &meta, &base).unwrap_err();
        assert!(err.to_string().contains("builds native 1.0"), "{err}");
        // The same name and version locked only in the build set is not the env's sdist.
        refuse_compiling_sdists(&with_native(crate::lock::BUILD_CATEGORY), &meta, &base).unwrap();
    }

    #[test]
    fn commands_split_like_a_shell_or_parse_as_json() {
        assert_eq!(
            parse_cmd("gunicorn -b 0.0.0.0:8000 'app:create_app()'").unwrap(),
            ["gunicorn", "-b", "0.0.0.0:8000", "app:create_app()"]
        );
        assert_eq!(
            parse_cmd(r#"["python", "-c", "print(\"hi\")"]"#).unwrap(),
            ["python", "-c", "print(\"hi\")"]
        );
        assert_eq!(
            parse_cmd(r#"echo "a \"b\"" c\ d"#).unwrap(),
            ["echo", "a \"b\"", "c d"]
        );
        // As a shell (and pip's option splitter): a backslash in double quotes stays unless it
        // escapes `"`, `\\`, `$` or a backquote.
        assert_eq!(
            parse_cmd(r#"python -c "print('\n')""#).unwrap(),
            ["python", "-c", "print('\\n')"]
        );
        assert!(parse_cmd("echo 'open").is_err());
        assert!(parse_cmd("   ").is_err());
        assert!(parse_cmd("[1, 2]").is_err());
    }
}
