//! envlock's own facts in the lock's `metadata.custom_metadata`, and the fingerprints over the
//! inputs and options that decide a lock.

pub const META_VERSION: &str = "envlock.version";
pub const META_CHANNEL_ALIAS: &str = "envlock.channel_alias";
pub const META_EXCLUDE_NEWER: &str = "envlock.exclude_newer";
pub const META_VIRTUAL_PACKAGES: &str = "envlock.virtual_packages.";
pub const META_PYPI_INDEXES: &str = "envlock.pypi.indexes";
/// The extras the pip requirements ask for (`name[extra]`, sorted): an extra added to or dropped
/// from a requirement changes what is locked without changing any version constraint.
pub const META_PYPI_EXTRAS: &str = "envlock.pypi.extras";
/// Per platform, the sha256 of the platform's package entries (rattler's package-derived
/// hash), so that hand edits to a lock are detected without the network.
pub const META_PACKAGES_SHA256: &str = "envlock.packages_sha256.";
/// A fingerprint of the resolution options (channels, alias, indexes, cutoff, pip options,
/// virtual packages): a re-resolve keeps the lock's pins only when it matches.
pub const META_OPTIONS_SHA256: &str = "envlock.options_sha256";

/// The lock metadata `envlock dockerfile` owns; `resolve` carries it over.
pub const META_DOCKER_PREFIX: &str = "envlock.docker.";
/// The base image the last `envlock dockerfile` run pinned.
pub const META_BASE: &str = "envlock.docker.base";
/// The flavor the recorded base is for.
pub const META_FLAVOR: &str = "envlock.docker.flavor";
/// The options of the last `envlock dockerfile` run (JSON), so `envlock check` can render what
/// it would render and compare.
pub const META_OPTIONS: &str = "envlock.docker.options";

/// Carries what `envlock dockerfile` recorded in `previous` (the pinned base, its options) over
/// into a freshly built lock, so it outlives a re-resolve.
pub fn carry_over_docker(
    previous: &rattler_conda_lock::LockFile,
    built: &mut rattler_conda_lock::LockFile,
) {
    let Some(previous) = previous.metadata.custom_metadata.as_ref() else {
        return;
    };
    let custom = built
        .metadata
        .custom_metadata
        .get_or_insert_with(Default::default);
    for (key, value) in previous {
        if key.starts_with(META_DOCKER_PREFIX) {
            custom.insert(key.clone(), value.clone());
        }
    }
}
