//! Satisfiability of a spec by a lock, without solving and without the network.
//!
//! Supported so far: every conda spec of the inputs is matched by a locked package of each
//! platform, and every locked package's dependencies are met inside the lock of its platform
//! (virtual packages by the values recorded in the lock). The `envlock check` command, pip
//! entries and render comparison build on this.

use anyhow::Result;
use rattler_conda_lock::{LockFile, Manager};
use rattler_conda_types::{
    GenericVirtualPackage, MatchSpec, Matches, PackageName, PackageRecord, ParseStrictness,
};

use crate::{lock::META_VIRTUAL_PACKAGES, spec::Spec};

/// The conda part of one platform of a lock, as typed records.
pub struct LockedPlatform {
    pub platform: String,
    pub records: Vec<PackageRecord>,
    pub virtual_packages: Vec<GenericVirtualPackage>,
}

/// Splits a lock into typed per-platform record sets.
pub fn locked_platforms(lock: &LockFile) -> Result<Vec<LockedPlatform>> {
    let custom = lock.metadata.custom_metadata.clone().unwrap_or_default();
    let mut out = Vec::new();
    for platform in &lock.metadata.platforms {
        let virtual_packages = custom
            .get(&format!("{META_VIRTUAL_PACKAGES}{platform}"))
            .map(|v| parse_virtual_packages(v))
            .transpose()?
            .unwrap_or_default();
        let mut records = Vec::new();
        for p in lock
            .package
            .iter()
            .filter(|p| &p.platform == platform && p.manager == Manager::Conda)
        {
            let name = PackageName::try_from(p.name.as_str())?;
            let version: rattler_conda_types::Version = p.version.parse()?;
            let build = p.build.clone().unwrap_or_default();
            let mut record = PackageRecord::new(
                name,
                version,
                rattler_conda_types::package::BuildString::new_unchecked(build),
            );
            record.depends = p
                .dependencies
                .iter()
                .map(|(n, c)| {
                    if c.is_empty() {
                        n.clone()
                    } else {
                        format!("{n} {c}")
                    }
                })
                .collect();
            records.push(record);
        }
        out.push(LockedPlatform {
            platform: platform.clone(),
            records,
            virtual_packages,
        });
    }
    Ok(out)
}

fn parse_virtual_packages(value: &str) -> Result<Vec<GenericVirtualPackage>> {
    value
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut parts = s.splitn(3, '=');
            let name = PackageName::try_from(parts.next().unwrap_or_default())?;
            let version = parts.next().unwrap_or("0").parse()?;
            let build = parts.next().unwrap_or("0").parse()?;
            Ok(GenericVirtualPackage {
                name,
                version,
                build_string: build,
            })
        })
        .collect()
}

impl LockedPlatform {
    fn satisfies(&self, spec: &MatchSpec) -> bool {
        self.records.iter().any(|r| spec.matches(r))
            || self.virtual_packages.iter().any(|v| spec.matches(v))
    }

    /// Locked packages whose dependencies the lock does not meet, as readable findings.
    pub fn unmet_dependencies(&self) -> Vec<String> {
        let mut findings = Vec::new();
        for record in &self.records {
            for dep in &record.depends {
                let ok = MatchSpec::from_str(dep, ParseStrictness::Lenient)
                    .map(|spec| self.satisfies(&spec))
                    .unwrap_or(false);
                if !ok {
                    findings.push(format!(
                        "{} {} locked for {} depends on `{dep}`, which nothing locked for {} satisfies",
                        record.name.as_normalized(),
                        record.version,
                        self.platform,
                        self.platform
                    ));
                }
            }
        }
        findings
    }

    /// Specs of `spec` that no locked package matches.
    pub fn unmatched_specs(&self, spec: &Spec) -> Vec<String> {
        spec.conda
            .iter()
            .filter(|d| !self.satisfies(&d.spec))
            .map(|d| {
                format!(
                    "{} in {} is not satisfied by anything locked for {}",
                    d.spec, d.location, self.platform
                )
            })
            .collect()
    }
}

/// Every finding of [`LockedPlatform::unmet_dependencies`] for every platform.
pub fn unmet_dependencies(lock: &LockFile) -> Result<Vec<String>> {
    Ok(locked_platforms(lock)?
        .iter()
        .flat_map(LockedPlatform::unmet_dependencies)
        .collect::<Vec<_>>())
}
