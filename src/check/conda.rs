//! The conda side: every conda spec is matched by a locked package, every locked conda
//! package's dependencies are met by conda packages and virtual packages, nothing is unneeded.

use std::{collections::HashMap, path::Path};

use anyhow::Result;
use rattler_conda_lock::{Manager, Package};
use rattler_conda_types::{
    GenericVirtualPackage, MatchSpec, Matches, PackageName, PackageRecord, ParseStrictness,
};

use super::{DriftKind, Finding, reachable};
use crate::{
    inputs::Prepared,
    lock::meta::{INIT_PACKAGE, InitRecord},
    util::redact,
};

fn conda_record(p: &Package) -> Result<PackageRecord> {
    let mut record = PackageRecord::new(
        PackageName::try_from(p.name.as_str())?,
        p.version.parse::<rattler_conda_types::Version>()?,
        rattler_conda_types::package::BuildString::new_unchecked(
            p.build.clone().unwrap_or_default(),
        ),
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
    // So that specs pinning a hash (`pkg[sha256=…]`) can match.
    record.sha256 = p
        .hash
        .sha256
        .as_deref()
        .and_then(rattler_digest::parse_digest_from_hex::<rattler_digest::Sha256>);
    record.md5 = p
        .hash
        .md5
        .as_deref()
        .and_then(rattler_digest::parse_digest_from_hex::<rattler_digest::Md5>);
    Ok(record)
}

/// Every conda spec matched, every conda dependency met, nothing unneeded.
pub(super) fn check(
    prepared: &Prepared,
    lockfile: &Path,
    platform: &str,
    packages: &[&Package],
    vps: &[GenericVirtualPackage],
    init: Option<&InitRecord>,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let conda: Vec<(&Package, PackageRecord)> = packages
        .iter()
        .filter(|p| p.manager == Manager::Conda)
        .map(|p| conda_record(p).map(|r| (*p, r)))
        .collect::<Result<_>>()?;
    let satisfied = |spec: &MatchSpec| {
        conda.iter().any(|(_, r)| spec.matches(r)) || vps.iter().any(|v| spec.matches(v))
    };
    let mut needed: Vec<String> = Vec::new();
    for dependency in &prepared.inputs.conda {
        let spec = &dependency.spec;
        let Some(name) = spec.name.as_exact() else {
            continue;
        };
        needed.push(name.as_normalized().to_string());
        if satisfied(spec) {
            continue;
        }
        let locked = conda
            .iter()
            .find(|(p, _)| p.name == name.as_normalized())
            .map(|(p, _)| format!("{} {}", p.name, p.version));
        findings.push(Finding::unsatisfied(
            &dependency.location,
            platform,
            &redact::text(&spec.to_string()),
            locked,
        ));
    }
    // The tini envlock added for the image's init is needed as an input is; the record must
    // match the lock (an input that names tini itself now is fine).
    if InitRecord::added_to(init, platform) {
        needed.push(INIT_PACKAGE.to_string());
        if !conda.iter().any(|(p, _)| p.name == INIT_PACKAGE) {
            findings.push(Finding::lock(
                lockfile,
                Some(platform),
                DriftKind::Unsatisfied,
                format!(
                    "the lock records tini as added for the image's init on {platform}, but locks no tini for it"
                ),
            ));
        }
    }
    for (package, record) in &conda {
        for dep in &record.depends {
            let met =
                MatchSpec::from_str(dep, ParseStrictness::Lenient).is_ok_and(|s| satisfied(&s));
            if !met {
                findings.push(Finding::lock(
                    lockfile,
                    Some(platform),
                    DriftKind::UnmetDependency,
                    format!(
                        "{} {} locked for {platform} depends on `{dep}`, which nothing locked for {platform} satisfies",
                        package.name, package.version
                    ),
                ));
            }
        }
    }
    // Nothing unneeded: everything must be reachable from the specs through dependencies.
    let by_name: HashMap<&str, &PackageRecord> =
        conda.iter().map(|(p, r)| (p.name.as_str(), r)).collect();
    let reached = reachable(needed, |name| {
        by_name
            .get(name)
            .map(|r| {
                r.depends
                    .iter()
                    .filter_map(|d| d.split_whitespace().next().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    });
    for (package, _) in &conda {
        if !reached.contains(package.name.as_str()) {
            findings.push(Finding::lock(
                lockfile,
                Some(platform),
                DriftKind::Unneeded,
                format!(
                    "{} {} is locked for {platform} but nothing in the inputs needs it",
                    package.name, package.version
                ),
            ));
        }
    }
    Ok(())
}
