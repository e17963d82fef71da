//! Image references and digest resolution through the OCI distribution API.
//!
//! Supported: Docker's reference grammar (`[registry/]repository[:tag][@sha256:…]`, with
//! `docker.io/library/` implied for short names); resolving a tag to the digest of its manifest
//! or multi-platform index with `HEAD /v2/<repository>/manifests/<tag>`, including the anonymous
//! bearer-token dance Docker Hub and most registries require (`WWW-Authenticate: Bearer
//! realm=…,service=…,scope=…`). Registries on loopback addresses are spoken to over plain HTTP,
//! as Docker does; all others over HTTPS.
//!
//! Not supported: credentials for private registries (pass a digest-pinned `--base` instead).

use std::fmt;

use anyhow::{Context, Result, bail};
use reqwest::{StatusCode, header};
use reqwest_middleware::ClientWithMiddleware;

use crate::util::{error::Failure, redact};

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// As written, without the digest: `condaforge/miniforge3:25.3.1-0`.
    pub name: String,
    /// The registry host (`docker.io` for short names).
    pub registry: String,
    /// The repository path on that registry (`library/python` for `python`).
    pub repository: String,
    /// The tag, when the reference names one.
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `[registry/]repository[:tag][@sha256:digest]`, as Docker does.
    pub fn parse(text: &str) -> Result<ImageRef> {
        let invalid = |why: &str| {
            Failure::new(format!("`{text}` is not an image reference: {why}"))
                .hint("write it as name:tag or name:tag@sha256:<digest>, e.g. python:3.12-slim")
        };
        if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it is empty or contains spaces").into());
        }
        let (name, digest) = match text.split_once('@') {
            Some((n, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| invalid("only sha256 digests are supported"))?;
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    return Err(
                        invalid("the digest must be sha256: and 64 lowercase hex digits").into(),
                    );
                }
                (n, Some(d.to_string()))
            }
            None => (text, None),
        };
        // A tag is a `:` after the last `/` (a `:` before it is a registry port).
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (
                &name[..last_slash + i],
                Some(name[last_slash + i + 1..].to_string()),
            ),
            None => (name, None),
        };
        if tag.as_deref() == Some("") || path.is_empty() {
            return Err(invalid("empty name or tag").into());
        }
        let (registry, repository) = match path.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_string(), rest.to_string())
            }
            _ if !path.contains('/') => ("docker.io".to_string(), format!("library/{path}")),
            _ => ("docker.io".to_string(), path.to_string()),
        };
        let valid = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b))
        };
        // Docker's grammar: a tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; a registry is a host
        // name with an optional port. Anything else (`${EVIL}`, quotes) never reaches a
        // Dockerfile.
        if let Some(tag) = &tag
            && (tag.len() > 128
                || tag.starts_with(['.', '-'])
                || !tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)))
        {
            return Err(invalid(
                "a tag is at most 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`",
            )
            .into());
        }
        if !registry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b))
        {
            return Err(invalid("a registry is a host name with an optional :port").into());
        }
        if !valid(&repository) {
            return Err(invalid(
                "repository names are lowercase letters, digits, `.`, `_`, `-` and `/`",
            )
            .into());
        }
        Ok(ImageRef {
            name: name.to_string(),
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// Where the registry's API lives.
    fn api_base(&self) -> String {
        let host = match self.registry.as_str() {
            "docker.io" => "registry-1.docker.io",
            other => other,
        };
        let loopback =
            host.starts_with("localhost") || host.starts_with("127.") || host.starts_with("[::1]");
        let scheme = if loopback { "http" } else { "https" };
        format!("{scheme}://{host}/v2/{}", self.repository)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// `image` with its digest: unchanged when it has one, else resolved from its registry.
pub async fn pin(client: &ClientWithMiddleware, image: ImageRef) -> Result<ImageRef> {
    Ok(pin_with_architectures(client, image).await?.0)
}

/// [`pin`], and, when the digest came from the registry now, the Linux architectures the image
/// is for (`amd64`, `arm64`, ...): a multi-platform index's entries, or a single image's config.
/// `None` when the image was pinned already or the registry did not say; never an error once the
/// digest is known.
pub async fn pin_with_architectures(
    client: &ClientWithMiddleware,
    image: ImageRef,
) -> Result<(ImageRef, Option<Vec<String>>)> {
    if image.digest.is_some() {
        return Ok((image, None));
    }
    let reference = image.tag.clone().unwrap_or_else(|| "latest".to_string());
    let url = format!("{}/manifests/{reference}", image.api_base());
    let (digest, token) = fetch_digest(client, &url).await.map_err(|e| {
        Failure::new(format!(
            "could not resolve the digest of {}: {e:#}",
            image.name
        ))
        .hint(format!(
            "check that the registry is reachable, or pass a pinned image: --base {}@sha256:<digest> \
             (`docker buildx imagetools inspect {}` prints it)",
            image.name, image.name
        ))
    })?;
    let architectures = architectures(client, &image, &digest, token.as_deref())
        .await
        .ok()
        .filter(|a| !a.is_empty());
    Ok((
        ImageRef {
            digest: Some(digest),
            ..image
        },
        architectures,
    ))
}

/// The Linux architectures of the manifest `digest` of `image`, sorted: an index's platforms
/// (attestation entries, `unknown`, are skipped), or a single image's config.
async fn architectures(
    client: &ClientWithMiddleware,
    image: &ImageRef,
    digest: &str,
    token: Option<&str>,
) -> Result<Vec<String>> {
    let get = |url: String| {
        let mut request = client.get(url).header(header::ACCEPT, MANIFEST_TYPES);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request.send()
    };
    let json = |response: reqwest::Response| async move {
        if !response.status().is_success() {
            bail!("the registry answered {}", response.status());
        }
        // A manifest or config is small; a huge answer is not one.
        let bytes = response.bytes().await?;
        if bytes.len() > 4 << 20 {
            bail!("the registry's answer is too large");
        }
        Ok::<serde_json::Value, anyhow::Error>(serde_json::from_slice(&bytes)?)
    };
    let manifest = json(get(format!("{}/manifests/{digest}", image.api_base())).await?).await?;
    let linux = |os: &serde_json::Value, arch: &serde_json::Value| {
        (os.as_str() == Some("linux"))
            .then(|| arch.as_str())
            .flatten()
            .filter(|a| !a.is_empty() && *a != "unknown")
            .map(str::to_string)
    };
    let mut found: Vec<String> = if let Some(list) = manifest["manifests"].as_array() {
        list.iter()
            .filter_map(|m| linux(&m["platform"]["os"], &m["platform"]["architecture"]))
            .collect()
    } else {
        let config = manifest["config"]["digest"]
            .as_str()
            .context("the manifest names no config")?;
        let hex = config.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("the manifest's config digest is not a sha256");
        }
        let config = json(get(format!("{}/blobs/{config}", image.api_base())).await?).await?;
        linux(&config["os"], &config["architecture"])
            .into_iter()
            .collect()
    };
    found.sort();
    found.dedup();
    Ok(found)
}

/// The Linux architecture an image is for by its name alone: Docker Hub's per-architecture
/// namespaces of the official images (`amd64/python`, `arm64v8/debian`, `ppc64le/ubuntu`).
pub fn architecture_by_name(image: &ImageRef) -> Option<&'static str> {
    if image.registry != "docker.io" {
        return None;
    }
    match image.repository.split('/').next()? {
        "amd64" => Some("amd64"),
        "arm64v8" => Some("arm64"),
        "ppc64le" => Some("ppc64le"),
        _ => None,
    }
}

/// The manifest's digest, and the anonymous token the registry asked for (if it did).
async fn fetch_digest(
    client: &ClientWithMiddleware,
    url: &str,
) -> Result<(String, Option<String>)> {
    let send = |token: Option<String>| {
        let mut request = client.head(url).header(header::ACCEPT, MANIFEST_TYPES);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request.send()
    };
    let mut response = send(None)
        .await
        .with_context(|| format!("{} is unreachable", redact::url_text(url)))?;
    let mut pull_token = None;
    if response.status() == StatusCode::UNAUTHORIZED {
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let token = anonymous_token(client, &challenge).await?;
        response = send(Some(token.clone()))
            .await
            .with_context(|| format!("{} is unreachable", redact::url_text(url)))?;
        pull_token = Some(token);
    }
    if !response.status().is_success() {
        bail!("{} answered {}", redact::url_text(url), response.status());
    }
    let digest = response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .context("the registry sent no Docker-Content-Digest header")?;
    if !digest.starts_with("sha256:") || digest.len() != 71 {
        bail!("the registry sent an unexpected digest `{digest}`");
    }
    Ok((digest, pull_token))
}

/// Follows a `Bearer realm=…,service=…,scope=…` challenge for an anonymous pull token.
async fn anonymous_token(client: &ClientWithMiddleware, challenge: &str) -> Result<String> {
    let params = challenge
        .strip_prefix("Bearer ")
        .context("the registry asks for credentials (not a Bearer challenge)")?;
    let mut realm = None;
    let mut query = Vec::new();
    for part in split_params(params) {
        if let Some((k, v)) = part.split_once('=') {
            let v = v.trim_matches('"').to_string();
            match k.trim() {
                "realm" => realm = Some(v),
                key @ ("service" | "scope") => query.push((key.to_string(), v)),
                _ => {}
            }
        }
    }
    let realm = realm.context("the registry's challenge has no realm")?;
    let response = client
        .get(&realm)
        .query(&query)
        .send()
        .await
        .with_context(|| format!("{} is unreachable", redact::url_text(&realm)))?;
    if !response.status().is_success() {
        bail!(
            "the token service {} answered {}",
            redact::url_text(&realm),
            response.status()
        );
    }
    let body: serde_json::Value = response.json().await.context("invalid token response")?;
    body["token"]
        .as_str()
        .or_else(|| body["access_token"].as_str())
        .map(str::to_string)
        .context("the token response has no token")
}

/// Splits `a="x,y",b=z` at commas outside quotes.
fn split_params(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_tags_and_registries_are_refused() {
        let digest = format!("@sha256:{}", "1".repeat(64));
        for bad in [
            format!("img:${{EVIL}}{digest}"),
            "img:a\"b".to_string(),
            "img:-x".to_string(),
            format!("img:{}", "a".repeat(129)),
            "ev$il.io/img:1".to_string(),
        ] {
            let e = format!("{:#}", ImageRef::parse(&bad).unwrap_err());
            assert!(e.contains("is not an image reference"), "{bad}: {e}");
        }
        for good in ["img:1.2_rc-3", "localhost:5000/a/b:x", "ghcr.io/o/i:v1"] {
            ImageRef::parse(good).unwrap();
        }
    }

    #[test]
    fn references_parse_like_docker() {
        let r = ImageRef::parse("python:3.12-slim").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("docker.io", "library/python")
        );
        assert_eq!(r.tag.as_deref(), Some("3.12-slim"));
        assert_eq!(
            r.api_base(),
            "https://registry-1.docker.io/v2/library/python"
        );

        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("condaforge/miniforge3:25.3.1-0@{d}")).unwrap();
        assert_eq!(r.repository, "condaforge/miniforge3");
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.to_string(), format!("condaforge/miniforge3:25.3.1-0@{d}"));

        let r = ImageRef::parse("127.0.0.1:5000/team/app:1.0").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("127.0.0.1:5000", "team/app")
        );
        assert_eq!(r.api_base(), "http://127.0.0.1:5000/v2/team/app");

        for bad in ["", "Python:3", "a b", "x@sha256:12", "x@md5:abc", "x:"] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn docker_hubs_architecture_namespaces_name_the_architecture() {
        let arch = |text: &str| architecture_by_name(&ImageRef::parse(text).unwrap());
        assert_eq!(arch("arm64v8/debian:bookworm"), Some("arm64"));
        assert_eq!(arch("amd64/python:3.12-slim"), Some("amd64"));
        assert_eq!(arch("ppc64le/ubuntu:24.04"), Some("ppc64le"));
        assert_eq!(arch("python:3.12-slim"), None);
        assert_eq!(arch("ghcr.io/arm64v8/debian:1"), None);
    }

    #[test]
    fn challenge_parameters_split_outside_quotes() {
        let p = split_params(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull""#,
        );
        assert_eq!(p.len(), 3);
        assert!(p[2].starts_with("scope="));
    }
}
