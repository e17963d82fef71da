//! The choices of an image that `envlock dockerfile` records in the lock (see
//! [`super::meta::DockerOptions`]). They live here, below the render stage, because the lock
//! metadata stores them; `render` re-exports them where they are used. Their serde names
//! (kebab-case) are the recorded values.

/// How the environment gets into the image.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    /// A conda env created from the lock's @EXPLICIT file, on a miniforge base.
    Conda,
    /// The pip packages only, in a venv on an official `python:X.Y-slim` base.
    Venv,
}

/// What the image runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// `python app.py`.
    Python,
    /// gunicorn serving `app:app` on 8000.
    Flask,
    /// JupyterLab on 8888, bound to 0.0.0.0; the token comes from `JUPYTER_TOKEN`.
    Jupyter,
}

/// How the image starts its command.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Entrypoint {
    /// tini → activation script → command.
    Tini,
    /// `conda run --no-capture-output -n env`.
    CondaRun,
}

/// Which hash the `@EXPLICIT` files carry.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum ExplicitHash {
    /// `#sha256:<hex>`: verified by conda ≥ 24.9 and micromamba ≥ 2.1.
    Sha256,
    /// `#<md5>`: what older installers understand.
    Md5,
}

/// What the image's last stage is (conda flavor).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// One stage: the env on the miniforge base, conda included.
    #[default]
    Single,
    /// A builder stage on the miniforge base, then only the env copied onto a slim Debian.
    Slim,
}

impl Runtime {
    /// Whether this is the default (not recorded, so older locks render as before).
    pub fn is_single(&self) -> bool {
        *self == Runtime::Single
    }
}
