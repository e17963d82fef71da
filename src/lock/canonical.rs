//! The fast path for reading a lock: a lock exactly as [`LockFile::to_yaml`] writes it (every
//! lock envlock writes, unless edited by hand) is read without source spans.
//!
//! [`rattler_conda_lock::Document`] keeps the span of every YAML node, so that each of its
//! errors can point into the file; building that map is most of what reading a lock costs. Here
//! the text is deserialized by `serde_yaml` into plain structs instead, and the result is
//! accepted only when writing it back gives the same text, byte for byte:
//!
//! - `to_yaml` validates the model first (the same [`LockFile::validate`] the spanned reader
//!   runs), so what is accepted is a valid lock;
//! - the text is then the canonical serialization of that model, which the spanned reader
//!   reads back as the same model (the round trip `rattler_conda_lock` promises and the tests
//!   below hold it to): both readers agree on every text this accepts, however `serde_yaml` and
//!   `serde-saphyr` differ on YAML's corners, because such a difference changes the model and
//!   then the re-written text.
//!
//! Anything else (a syntax error, an unknown field, another order, a lock conda-lock wrote)
//! returns `None`, and the caller reads the text again with spans, which makes the error, with
//! its line and column, or the model.

use std::{collections::BTreeMap, sync::Mutex};

use rattler_conda_lock::{
    Channel, GitMetadata, Hashes, LockFile, Manager, Metadata, Package, PackageSource, TimeMetadata,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lock {
    version: u8,
    metadata: Meta,
    package: Vec<Pkg>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    content_hash: BTreeMap<String, String>,
    channels: Vec<Chan>,
    platforms: Vec<String>,
    sources: Vec<String>,
    time_metadata: Option<Time>,
    git_metadata: Option<Git>,
    inputs_metadata: Option<BTreeMap<String, Hash>>,
    custom_metadata: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Chan {
    url: String,
    used_env_vars: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Time {
    created_at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Git {
    git_user_name: Option<String>,
    git_user_email: Option<String>,
    git_sha: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Hash {
    md5: Option<String>,
    sha256: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    #[serde(rename = "type")]
    kind: String,
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pkg {
    build: Option<String>,
    category: String,
    dependencies: BTreeMap<String, String>,
    hash: Hash,
    manager: String,
    name: String,
    optional: bool,
    platform: String,
    source: Option<Source>,
    url: String,
    version: String,
}

impl From<Hash> for Hashes {
    fn from(h: Hash) -> Self {
        Hashes {
            md5: h.md5,
            sha256: h.sha256,
        }
    }
}

/// The lock `text` holds, when `text` is exactly the canonical serialization of a valid lock;
/// `None` otherwise (then read it with [`rattler_conda_lock::Document`]).
///
/// The last text read and its lock are kept: a command reads its lock more than once (`check`
/// for the recorded options and for the check itself, `dockerfile --locked` a third time), and
/// the lock is a function of the text alone, so the same text gives the same lock again.
pub fn read(text: &str) -> Option<LockFile> {
    static LAST: Mutex<Option<(String, LockFile)>> = Mutex::new(None);
    if let Ok(last) = LAST.lock()
        && let Some((last_text, lock)) = last.as_ref()
        && last_text == text
    {
        return Some(lock.clone());
    }
    let lock = read_uncached(text)?;
    if let Ok(mut last) = LAST.lock() {
        *last = Some((text.to_string(), lock.clone()));
    }
    Some(lock)
}

fn read_uncached(text: &str) -> Option<LockFile> {
    let raw: Lock = serde_yaml::from_str(text).ok()?;
    if raw.version != 1 {
        return None;
    }
    let mut package = Vec::with_capacity(raw.package.len());
    for p in raw.package {
        let manager = match p.manager.as_str() {
            "conda" => Manager::Conda,
            "pip" => Manager::Pip,
            _ => return None,
        };
        let source = match p.source {
            Some(s) if s.kind == "url" => Some(PackageSource { url: s.url }),
            Some(_) => return None,
            None => None,
        };
        package.push(Package {
            name: p.name,
            version: p.version,
            manager,
            platform: p.platform,
            dependencies: p.dependencies,
            url: p.url,
            hash: p.hash.into(),
            source,
            build: p.build,
            category: p.category,
            optional: p.optional,
        });
    }
    let m = raw.metadata;
    let lock = LockFile {
        metadata: Metadata {
            content_hash: m.content_hash,
            channels: m
                .channels
                .into_iter()
                .map(|c| Channel {
                    url: c.url,
                    used_env_vars: c.used_env_vars,
                })
                .collect(),
            platforms: m.platforms,
            sources: m.sources,
            time_metadata: m.time_metadata.map(|t| TimeMetadata {
                created_at: t.created_at,
            }),
            git_metadata: m.git_metadata.map(|g| GitMetadata {
                git_user_name: g.git_user_name,
                git_user_email: g.git_user_email,
                git_sha: g.git_sha,
            }),
            inputs_metadata: m
                .inputs_metadata
                .map(|i| i.into_iter().map(|(k, v)| (k, v.into())).collect()),
            custom_metadata: m.custom_metadata,
        },
        package,
    };
    // The writer sorts packages and platforms and lowercases checksums; a model that needs any
    // of that would be read back in another order or case than it is here.
    if !is_canonical(&lock) {
        return None;
    }
    // Validates, as the spanned reader does, then writes the canonical text.
    (lock.to_yaml().ok()? == text).then_some(lock)
}

/// Whether `lock` is in the order and case its canonical serialization has.
fn is_canonical(lock: &LockFile) -> bool {
    let lower = |h: &Option<String>| {
        h.as_deref()
            .is_none_or(|h| !h.bytes().any(|b| b.is_ascii_uppercase()))
    };
    lock.metadata.platforms.is_sorted()
        && lock.package.is_sorted_by(|a, b| {
            a.identity()
                .cmp(&b.identity())
                .then_with(|| a.cmp(b))
                .is_le()
        })
        && lock
            .package
            .iter()
            .all(|p| lower(&p.hash.md5) && lower(&p.hash.sha256))
        && lock
            .metadata
            .content_hash
            .values()
            .all(|h| !h.bytes().any(|b| b.is_ascii_uppercase()))
        && lock
            .metadata
            .inputs_metadata
            .iter()
            .flatten()
            .all(|(_, h)| lower(&h.md5) && lower(&h.sha256))
}
