//! The plan of an image: which base, and every file `envlock dockerfile` writes, rendered in
//! memory from the lock and the options. Pure: pinning the base and writing files is
//! [`crate::commands::dockerfile`]'s work, and `check` renders the same plan to compare.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{
    ExplicitHash,
    dockerfile::{self, CONDA_PREFIX, Entrypoint, Flavor, Preset},
};
use crate::{
    lock::{META_BASE, META_FLAVOR, META_OPTIONS},
    net::oci::ImageRef,
    util::{error::Failure, fs::relative_to, shell},
};

/// conda-forge's miniforge3 image, as a multi-platform index digest.
pub const DEFAULT_CONDA_BASE: &str = "condaforge/miniforge3:25.3.1-0@sha256:1e65803d646bf8503728001dddb5756f3e8235e0883c19b5a5ad1da85cff0905";

/// What [`META_OPTIONS`] holds: everything besides the lock that decides the rendered files.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct OptionsRecord {
    /// The Dockerfile, relative to the lockfile's directory.
    output: String,
    dir: String,
    flavor: String,
    preset: String,
    cmd: Option<String>,
    ports: Vec<u16>,
    run: Vec<String>,
    entrypoint: String,
    explicit_hash: String,
}

impl DockerfileRequest {
    pub fn record(&self) -> OptionsRecord {
        let lock_dir = self.lockfile.parent().unwrap_or(Path::new(""));
        OptionsRecord {
            output: relative_to(&self.output, lock_dir),
            dir: self.dir.clone(),
            flavor: flavor_name(self.flavor).into(),
            preset: match self.preset {
                Preset::Python => "python",
                Preset::Flask => "flask",
                Preset::Jupyter => "jupyter",
            }
            .into(),
            cmd: self.cmd.clone(),
            ports: self.ports.clone(),
            run: self.run.clone(),
            entrypoint: match self.entrypoint {
                Entrypoint::Tini => "tini",
                Entrypoint::CondaRun => "conda-run",
            }
            .into(),
            explicit_hash: match self.explicit_hash {
                ExplicitHash::Sha256 => "sha256",
                ExplicitHash::Md5 => "md5",
            }
            .into(),
        }
    }

    /// The request an earlier `envlock dockerfile` run recorded in `lock`, if any.
    pub fn recorded(
        lock: &rattler_conda_lock::LockFile,
        lockfile: &Path,
    ) -> Result<Option<DockerfileRequest>> {
        let custom = lock.metadata.custom_metadata.clone().unwrap_or_default();
        let Some(json) = custom.get(META_OPTIONS) else {
            return Ok(None);
        };
        let bad = || {
            Failure::new(format!(
                "{}: `{META_OPTIONS}` is not valid",
                lockfile.display()
            ))
            .hint("run `envlock dockerfile` again to rewrite it")
        };
        let r: OptionsRecord = serde_json::from_str(json).map_err(|_| bad())?;
        let lock_dir = lockfile.parent().unwrap_or(Path::new(""));
        Ok(Some(DockerfileRequest {
            lockfile: lockfile.to_path_buf(),
            output: lock_dir.join(&r.output),
            dir: r.dir,
            base: custom.get(META_BASE).cloned(),
            flavor: match r.flavor.as_str() {
                "venv" => Flavor::Venv,
                "conda" => Flavor::Conda,
                _ => return Err(bad().into()),
            },
            preset: match r.preset.as_str() {
                "python" => Preset::Python,
                "flask" => Preset::Flask,
                "jupyter" => Preset::Jupyter,
                _ => return Err(bad().into()),
            },
            cmd: r.cmd,
            ports: r.ports,
            run: r.run,
            entrypoint: match r.entrypoint.as_str() {
                "tini" => Entrypoint::Tini,
                "conda-run" => Entrypoint::CondaRun,
                _ => return Err(bad().into()),
            },
            explicit_hash: match r.explicit_hash.as_str() {
                "sha256" => ExplicitHash::Sha256,
                "md5" => ExplicitHash::Md5,
                _ => return Err(bad().into()),
            },
        }))
    }
}

pub struct DockerfileRequest {
    pub lockfile: PathBuf,
    pub output: PathBuf,
    pub dir: String,
    pub base: Option<String>,
    pub flavor: Flavor,
    pub preset: Preset,
    pub cmd: Option<String>,
    pub ports: Vec<u16>,
    pub run: Vec<String>,
    pub entrypoint: Entrypoint,
    pub explicit_hash: ExplicitHash,
}

/// One rendered file: where it goes and what it holds.
pub struct RenderedFile {
    pub path: PathBuf,
    pub text: String,
    /// `.dockerignore` is only written when absent: it is the user's file once it exists.
    pub keep_existing: bool,
}

pub fn flavor_name(f: Flavor) -> &'static str {
    match f {
        Flavor::Conda => "conda",
        Flavor::Venv => "venv",
    }
}

/// The base to use before pinning: `--base`, the recorded one, or the flavor's default.
pub fn choose_base(
    lock: &rattler_conda_lock::LockFile,
    request: &DockerfileRequest,
) -> Result<ImageRef> {
    if let Some(base) = &request.base {
        return ImageRef::parse(base);
    }
    let custom = lock.metadata.custom_metadata.clone().unwrap_or_default();
    let recorded = custom
        .get(META_BASE)
        .filter(|_| {
            custom.get(META_FLAVOR).map(String::as_str) == Some(flavor_name(request.flavor))
        })
        .map(|b| ImageRef::parse(b))
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
    };
    let context = request
        .output
        .parent()
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let dir = context.join(&request.dir);
    let mut files = vec![RenderedFile {
        path: request.output.clone(),
        text: dockerfile::render(lock, &options)?,
        keep_existing: false,
    }];
    for platform in dockerfile::linux_platforms(lock) {
        if request.flavor == Flavor::Conda {
            files.push(RenderedFile {
                path: dir.join(format!("conda-{platform}.txt")),
                text: super::explicit(lock, platform, &lockfile_name, request.explicit_hash),
                keep_existing: false,
            });
        }
        files.push(RenderedFile {
            path: dir.join(format!("pip-{platform}.txt")),
            text: super::pip_requirements(lock, platform, &lockfile_name),
            keep_existing: false,
        });
    }
    if request.flavor == Flavor::Conda {
        files.push(RenderedFile {
            path: dir.join("entrypoint.sh"),
            text: super::entrypoint(lock, &lockfile_name, CONDA_PREFIX),
            keep_existing: false,
        });
    }
    files.push(RenderedFile {
        path: context.join(".dockerignore"),
        text: super::dockerignore(lock, &lockfile_name),
        keep_existing: true,
    });
    Ok(files)
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
        }
    }

    fn lock_with_python(version: &str, recorded_base: &str) -> rattler_conda_lock::LockFile {
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
        let custom = lock
            .metadata
            .custom_metadata
            .get_or_insert_with(Default::default);
        custom.insert(META_BASE.into(), recorded_base.into());
        custom.insert(META_FLAVOR.into(), "venv".into());
        lock
    }

    #[test]
    fn the_venv_base_follows_the_locked_python() {
        let recorded = format!("python:3.11-slim@sha256:{}", "1".repeat(64));
        let base = choose_base(&lock_with_python("3.11.7", &recorded), &venv_request()).unwrap();
        assert_eq!(base.to_string(), recorded, "kept while the python matches");
        let base = choose_base(&lock_with_python("3.12.1", &recorded), &venv_request()).unwrap();
        assert_eq!(
            base.to_string(),
            "python:3.12-slim",
            "a new python needs a new base"
        );
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
