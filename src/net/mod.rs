//! The network: the one HTTP client envlock uses (conda channels, PyPI indexes, registries).
//!
//! TLS trusts the operating system's certificate store (through rustls-platform-verifier), which
//! also honours `SSL_CERT_FILE` and `SSL_CERT_DIR`, so TLS-intercepting corporate proxies work
//! once their CA is installed. `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` are honoured.
//! Every request passes [`retry::Retry`] and then [`netrc::Netrc`] (credentials from a netrc
//! file); conda requests also [`shards::OptionalShards`]; [`oci`] pins image tags to digests.

use std::time::Duration;

use anyhow::{Context, Result};

pub mod netrc;
pub mod oci;
pub mod retry;
pub mod shards;

pub use netrc::Netrc;
pub use retry::Retry;
pub use shards::OptionalShards;

/// How long a read may wait for the server: `ENVLOCK_HTTP_TIMEOUT` seconds, else 30 (uv's
/// default; pip's is 15). A request that times out is tried once more, saying so.
pub fn timeout() -> Duration {
    std::env::var("ENVLOCK_HTTP_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map_or(Duration::from_secs(30), Duration::from_secs)
}

/// The HTTP client: the OS certificate store, proxies from the environment, timeouts.
pub fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("envlock/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeout())
        .read_timeout(timeout())
        .build()
        .context("could not set up the HTTP client (TLS certificate store)")
}

/// `client` with [`Retry::BUFFERED`] (bodies read inside the retry loop) and [`Netrc`] in front:
/// for requests that do not go through the conda gateway.
pub fn with_retries(client: reqwest::Client) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(client)
        .with(Retry::BUFFERED)
        .with(Netrc)
        .build()
}
