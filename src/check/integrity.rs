//! The lock is as envlock wrote it: a checksum of each platform's package entries, so hand edits
//! of a version, a hash, a URL or a removed package are found without the network.

use std::path::Path;

use rattler_conda_lock::LockFile;

use super::{DriftKind, Finding};
use crate::lock::EnvlockMeta;

/// Compares each platform's package entries with the checksum envlock recorded.
pub(super) fn check(
    lock: &LockFile,
    meta: &EnvlockMeta,
    lockfile: &Path,
    findings: &mut Vec<Finding>,
) {
    let actual = lock.compute_content_hashes();
    for platform in &lock.metadata.platforms {
        if let Some(recorded) = meta.packages_sha256.get(platform)
            && actual.get(platform) != Some(recorded)
        {
            findings.push(Finding::lock(
                    lockfile,
                    Some(platform),
                    DriftKind::Edited,
                    format!(
                        "the {platform} packages in {} were changed after envlock wrote them (a version, hash, URL or package was edited, added or removed)",
                        lockfile.display()
                    ),
                ));
        }
    }
}
