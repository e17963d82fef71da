//! The network: the one HTTP client envlock uses (conda channels, PyPI indexes, registries).
//!
//! TLS trusts the operating system's certificate store (through rustls-platform-verifier), which
//! also honours `SSL_CERT_FILE` and `SSL_CERT_DIR`, so TLS-intercepting corporate proxies work
//! once their CA is installed. `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` are honoured.
//! Every request passes [`retry::Retry`] and then [`netrc::Netrc`] (credentials from a netrc
//! file); [`oci`] pins image tags to digests.

use std::time::Duration;

use anyhow::{Context, Result};

pub mod netrc;
pub mod oci;
pub mod retry;

pub use netrc::Netrc;
pub use retry::Retry;

/// The HTTP client: the OS certificate store, proxies from the environment, timeouts.
pub fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("envlock/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .build()
        .context("could not set up the HTTP client (TLS certificate store)")
}

/// `client` with [`Retry`] and [`Netrc`] in front: for requests that do not go through the
/// conda gateway.
pub fn with_retries(client: reqwest::Client) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(client)
        .with(Retry)
        .with(Netrc)
        .build()
}
