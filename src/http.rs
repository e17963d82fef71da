//! The one HTTP client envlock uses, for conda channels now and PyPI indexes later.
//!
//! TLS trusts the operating system's certificate store (through rustls-platform-verifier), which
//! also honours `SSL_CERT_FILE` and `SSL_CERT_DIR`, so TLS-intercepting corporate proxies work
//! once their CA is installed. `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` are honoured.
//! Retries with exponential backoff happen in the repodata gateway, which owns the requests.

use std::time::Duration;

use anyhow::{Context, Result};

pub fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("envlock/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .build()
        .context("could not set up the HTTP client (TLS certificate store)")
}
