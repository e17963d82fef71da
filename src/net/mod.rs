//! The network: the one HTTP client envlock uses (conda channels, PyPI indexes, registries).
//!
//! TLS trusts the operating system's certificate store (through rustls-platform-verifier), which
//! also honours `SSL_CERT_FILE` and `SSL_CERT_DIR`, so TLS-intercepting corporate proxies work
//! once their CA is installed. The TLS crypto provider is ring (random numbers from the OS).
//! `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` are honoured.
//! Every request passes [`retry::Retry`] and then [`netrc::Netrc`] (credentials from a netrc
//! file); conda requests also [`shards::OptionalShards`]; [`oci`] pins image tags to digests.
//! The client with its TLS set-up is made on the first request sent, not before: a run that
//! sends none (cached, offline, `check`) never reads the certificate store.

use std::{sync::OnceLock, time::Duration};

use anyhow::{Context, Result, anyhow};
use reqwest_middleware::ClientWithMiddleware;

use crate::util::redact;

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
///
/// Setting up TLS reads the whole certificate store and seeds the TLS library's random number
/// generator, which is a good part of what a run that needs no network costs (a cached or
/// offline resolve, `dockerfile` with a pinned base). So it is built once per process, on the
/// first request [`Connect`] sends, not when a command starts; a store that cannot be read is
/// then the error of that request.
fn connected() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // ring's random numbers come from the OS. aws-lc, reqwest's provider when none is
            // installed, first gathers CPU-jitter entropy for its own generator, which took 70%
            // of the instructions of a warm resolve that revalidates a few PyPI pages over https.
            // An error means a provider is installed already; reqwest then takes that one.
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .user_agent(concat!("envlock/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(timeout())
                .read_timeout(timeout())
                .build()
                .map_err(|e| {
                    format!(
                        "could not set up the HTTP client (TLS certificate store): {}",
                        redact::text(&format!("{:#}", anyhow::Error::from(e)))
                    )
                })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The last middleware of every client ([`builder`] adds it): sends the request through the
/// process's one connected client, set up on the first request. It never passes the request
/// on, so the client it was built from only builds requests.
#[derive(Debug, Clone, Copy)]
struct Connect;

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Connect {
    async fn handle(
        &self,
        req: reqwest::Request,
        _extensions: &mut http::Extensions,
        _next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let client = connected().map_err(|e| reqwest_middleware::Error::Middleware(anyhow!(e)))?;
        client
            .execute(req)
            .await
            .map_err(reqwest_middleware::Error::Reqwest)
    }
}

/// The client requests are built with: it sets up no TLS and cannot send anything itself (https
/// only, and it trusts no certificate), so that a request that missed [`Connect`] fails.
fn unconnected() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .https_only(true)
        .tls_certs_only(std::iter::empty())
        .build()
        .context("could not set up the HTTP client")
}

/// A client to put middleware on: what [`finish`] turns into the client, with [`Connect`] last.
pub fn builder() -> Result<reqwest_middleware::ClientBuilder> {
    Ok(reqwest_middleware::ClientBuilder::new(unconnected()?))
}

/// The client `builder`'s middleware make, sending through the process's one TLS client.
pub fn finish(builder: reqwest_middleware::ClientBuilder) -> ClientWithMiddleware {
    builder.with(Connect).build()
}

/// The client with [`Retry::BUFFERED`] (bodies read inside the retry loop) and [`Netrc`] in
/// front: for requests that do not go through the conda gateway.
pub fn with_retries() -> Result<ClientWithMiddleware> {
    Ok(finish(builder()?.with(Retry::BUFFERED).with(Netrc)))
}
