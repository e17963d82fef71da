//! The pins of an existing lock that a re-resolve prefers, so re-resolving unchanged inputs
//! changes nothing and adding a dependency adds only what it needs.

use std::{
    collections::{HashMap, HashSet},
    str::FromStr,
};

use rattler_conda_types::Subdir;

use super::meta::EnvlockMeta;

/// Which pins of an existing lock a resolve keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Keep every pin that still satisfies the inputs.
    Keep,
    /// Keep every pin but these packages' (by conda or PyPI name).
    Packages(Vec<String>),
    /// Ignore the existing lock.
    All,
}

/// The pins of an existing lock that a resolve prefers, per platform.
#[derive(Default)]
pub struct Pins {
    /// Conda record URLs.
    pub conda: HashMap<Subdir, HashSet<String>>,
    /// PyPI versions.
    pub pypi: HashMap<Subdir, HashMap<pep508_rs::PackageName, pep440_rs::Version>>,
    /// PyPI versions of the build sets (`category: build`).
    pub pypi_build: HashMap<Subdir, HashMap<pep508_rs::PackageName, pep440_rs::Version>>,
}

impl Pins {
    /// The existing lock's pins, less those `update` releases. A missing or unreadable lock
    /// gives no pins (a resolve then starts from scratch, as with `--update-all`).
    pub fn from_previous(
        previous: Option<&rattler_conda_lock::LockFile>,
        update: &Update,
        fingerprint: &str,
        warnings: &mut Vec<String>,
    ) -> Pins {
        let released: HashSet<String> = match update {
            Update::All => return Pins::default(),
            Update::Keep => HashSet::new(),
            Update::Packages(names) => names.iter().map(|n| normalize(n)).collect(),
        };
        let Some(previous) = previous else {
            return Pins::default();
        };
        // New channels, indexes, cutoff or pip options: the old pins answer another question.
        // So does a lock whose envlock metadata does not read.
        let same_options = EnvlockMeta::read(previous)
            .ok()
            .and_then(|m| m.options_sha256)
            .is_some_and(|f| f == fingerprint);
        if !same_options {
            return Pins::default();
        }
        for name in &released {
            if !previous.package.iter().any(|p| &normalize(&p.name) == name) {
                warnings.push(format!(
                    "--update {name}: no package of that name is locked"
                ));
            }
        }
        let mut pins = Pins::default();
        for p in &previous.package {
            let Ok(platform) = p.platform.parse::<Subdir>() else {
                continue;
            };
            if released.contains(&normalize(&p.name)) {
                continue;
            }
            match p.manager {
                rattler_conda_lock::Manager::Conda => {
                    pins.conda
                        .entry(platform)
                        .or_default()
                        .insert(p.url.clone());
                }
                rattler_conda_lock::Manager::Pip => {
                    if let (Ok(name), Ok(version)) = (
                        pep508_rs::PackageName::from_str(&p.name),
                        pep440_rs::Version::from_str(&p.version),
                    ) {
                        let pins = if super::is_build_requirement(p) {
                            &mut pins.pypi_build
                        } else {
                            &mut pins.pypi
                        };
                        pins.entry(platform).or_default().insert(name, version);
                    }
                }
            }
        }
        pins
    }
}

/// Package names compared the way both ecosystems mostly agree on: case, `_` and `.` ignored.
fn normalize(name: &str) -> String {
    name.to_lowercase().replace(['_', '.'], "-")
}
