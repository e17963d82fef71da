//! The pip side: every pip requirement (markers evaluated for the platform) is matched by a
//! locked package, every constraint and `--hash` holds, every locked pip package's dependencies
//! are met by pip packages or what conda provides, nothing is unneeded.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    str::FromStr,
};

use anyhow::Result;
use rattler_conda_lock::{Manager, Package};
use rattler_conda_types::{GenericVirtualPackage, Subdir};

use super::{DriftKind, Finding, reachable};
use crate::{
    inputs::Prepared,
    lock::{self, SdistBuildRecord},
    solve::pypi::{mapping::Mapping, tags::Target},
    util::redact,
};

/// Whether a git requirement is what the lock locked: the ref the lock records as requested,
/// and a locked commit of the same repository and subdirectory. A moved tag or branch is not
/// seen here (that needs the network); `envlock resolve` locks the commit it names now.
fn git_matches(wanted: &url::Url, locked: &str, recorded: Option<&String>) -> bool {
    use crate::solve::pypi::git::GitUrl;
    let (Ok(wanted), Ok(locked)) = (GitUrl::parse(wanted), url::Url::parse(locked)) else {
        return false;
    };
    let Ok(locked) = GitUrl::parse(&locked) else {
        return false;
    };
    recorded == Some(&wanted.requested())
        && locked.locked_commit().is_some()
        && locked.display_repository() == wanted.display_repository()
        && locked.subdirectory == wanted.subdirectory
}

/// Every pip requirement matched, every constraint held, every pip dependency met, nothing
/// unneeded.
#[allow(clippy::too_many_arguments)]
pub(super) fn check(
    prepared: &Prepared,
    lockfile: &Path,
    platform: &str,
    packages: &[&Package],
    vps: &[GenericVirtualPackage],
    mapping: &Mapping,
    git: &BTreeMap<String, String>,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let pip: Vec<&Package> = packages
        .iter()
        .copied()
        .filter(|p| lock::is_env_pip(p))
        .collect();
    let requirements = &prepared.inputs.pypi.requirements;
    if pip.is_empty() && requirements.is_empty() {
        return Ok(());
    }
    let Some(python) = packages
        .iter()
        .find(|p| p.manager == Manager::Conda && p.name == "python")
    else {
        findings.push(Finding::lock(
            lockfile,
            Some(platform),
            DriftKind::UnmetDependency,
            format!("pip packages need a python, and none is locked for {platform}"),
        ));
        return Ok(());
    };
    let Ok(subdir) = platform.parse::<Subdir>() else {
        return Ok(());
    };
    let python_version = pep440_rs::Version::from_str(&python.version)
        .map_err(|e| anyhow::anyhow!("python {}: {e}", python.version))?;
    let target = Target::new(subdir, &python_version, vps)?;
    let env = target.marker_environment();

    let conda_provided = mapping.provided_by(
        packages
            .iter()
            .filter(|p| p.manager == Manager::Conda)
            .map(|p| {
                (
                    p.name.as_str(),
                    p.version.clone(),
                    p.dependencies.contains_key("python"),
                )
            }),
    );
    let locked: HashMap<pep508_rs::PackageName, (&Package, pep440_rs::Version)> = pip
        .iter()
        .filter_map(|p| {
            let name = pep508_rs::PackageName::from_str(&p.name).ok()?;
            let version = pep440_rs::Version::from_str(&p.version).ok()?;
            Some((name, (*p, version)))
        })
        .collect();
    let version_of = |name: &pep508_rs::PackageName| {
        locked
            .get(name)
            .map(|(_, v)| v.clone())
            .or_else(|| conda_provided.get(name).cloned())
    };

    let mut needed = Vec::new();
    let constraints = prepared.inputs.pypi.constraints.iter().map(|r| (r, true));
    for (r, is_constraint) in requirements.iter().map(|r| (r, false)).chain(constraints) {
        if !r.requirement.marker.evaluate(&env, &[]) {
            continue;
        }
        // A bare URL: its locked package is found by the URL (the name is only a guess).
        if r.unnamed
            && let Some(pep508_rs::VersionOrUrl::Url(url)) = &r.requirement.version_or_url
        {
            let found = pip.iter().find(|p| {
                if url.scheme().starts_with("git+") {
                    url::Url::parse(&p.url).is_ok_and(|u| {
                        git_matches(url, u.as_str(), git.get(r.requirement.name.as_ref()))
                    })
                } else {
                    let mut wanted = url.to_url();
                    wanted.set_fragment(None);
                    p.url == redact::url(&wanted).as_str()
                }
            });
            match found {
                Some(p) => needed.push(p.name.clone()),
                None => findings.push(Finding::unsatisfied(
                    &r.location,
                    platform,
                    &redact::text(&url.to_string()),
                    None,
                )),
            }
            continue;
        }
        let name = &r.requirement.name;
        if !is_constraint {
            // An extra's dependencies are recorded on the package itself, so the name suffices.
            needed.push(name.to_string());
        }
        let allowed: Vec<String> = r
            .hashes
            .iter()
            .filter_map(|h| h.strip_prefix("sha256:").map(str::to_ascii_lowercase))
            .collect();
        if !allowed.is_empty()
            && let Some((package, _)) = locked.get(name)
            && !package
                .hash
                .sha256
                .as_ref()
                .is_some_and(|h| allowed.contains(h))
        {
            findings.push(Finding::at(
                &r.location,
                Some(platform),
                format!(
                    "the `--hash` values of {name} in {} do not include the file locked for {platform}",
                    r.location
                ),
            ));
        }
        let ok = match (&r.requirement.version_or_url, version_of(name)) {
            (_, None) => is_constraint,
            (Some(pep508_rs::VersionOrUrl::VersionSpecifier(s)), Some(v)) => s.contains(&v),
            (Some(pep508_rs::VersionOrUrl::Url(url)), Some(_))
                if url.scheme().starts_with("git+") =>
            {
                locked
                    .get(name)
                    .is_some_and(|(p, _)| git_matches(url, &p.url, git.get(name.as_ref())))
            }
            (Some(pep508_rs::VersionOrUrl::Url(url)), Some(_)) => {
                locked.get(name).is_some_and(|(p, _)| {
                    let mut wanted = url.to_url();
                    wanted.set_fragment(None);
                    p.url == redact::url(&wanted).as_str()
                })
            }
            (None, Some(_)) => true,
        };
        if !ok {
            findings.push(Finding::unsatisfied(
                &r.location,
                platform,
                &redact::text(&r.requirement.to_string()),
                version_of(name).map(|v| format!("{name} {v}")),
            ));
        }
    }
    for (package, _) in locked.values() {
        for (dep, constraint) in &package.dependencies {
            let Ok(dep_name) = pep508_rs::PackageName::from_str(dep) else {
                continue;
            };
            let met = meets(version_of(&dep_name).as_ref(), constraint);
            if !met {
                findings.push(Finding::lock(
                    lockfile,
                    Some(platform),
                    DriftKind::UnmetDependency,
                    format!(
                        "{} {} locked for {platform} depends on {dep} {constraint}, which nothing locked for {platform} satisfies",
                        package.name, package.version
                    ),
                ));
            }
        }
    }
    let reached = reachable(needed, |name| {
        pep508_rs::PackageName::from_str(name)
            .ok()
            .and_then(|n| {
                locked
                    .get(&n)
                    .map(|(p, _)| p.dependencies.keys().cloned().collect())
            })
            .unwrap_or_default()
    });
    for (name, (package, _)) in &locked {
        if !reached.contains(name.as_ref()) {
            findings.push(Finding::lock(
                lockfile,
                Some(platform),
                DriftKind::Unneeded,
                format!(
                    "{} {} (pip) is locked for {platform} but nothing in the inputs needs it",
                    package.name, package.version
                ),
            ));
        }
    }
    Ok(())
}

/// The build set (`category: build` pip packages): every package an sdist's record names is
/// locked, each one is needed by some locked sdist, and their dependencies are met among
/// themselves. An sdist whose build requirements could not be pinned is no drift.
pub(super) fn check_build(
    lockfile: &Path,
    platform: &str,
    packages: &[&Package],
    records: Option<&BTreeMap<String, SdistBuildRecord>>,
    local_projects: &[String],
    findings: &mut Vec<Finding>,
) {
    let build: HashMap<&str, &Package> = packages
        .iter()
        .filter(|p| lock::is_build_requirement(p))
        .map(|p| (p.name.as_str(), *p))
        .collect();
    let empty = BTreeMap::new();
    let records = records.unwrap_or(&empty);
    let mut needed = Vec::new();
    for (sdist, record) in records {
        // A local project's build is recorded like a locked sdist's; the project itself is the
        // build context, not a package entry.
        let locked = local_projects.contains(sdist)
            || packages
                .iter()
                .any(|p| lock::is_env_pip(p) && &p.name == sdist && p.version == record.version);
        if !locked {
            findings.push(Finding::lock(
                lockfile,
                Some(platform),
                DriftKind::Unneeded,
                format!(
                    "the lock records build requirements for the sdist {sdist} {} on {platform}, which is not locked",
                    record.version
                ),
            ));
        }
        for name in record.requires.iter().flatten() {
            needed.push(name.clone());
            if !build.contains_key(name.as_str()) {
                findings.push(Finding::lock(
                    lockfile,
                    Some(platform),
                    DriftKind::UnmetDependency,
                    format!(
                        "the sdist {sdist} {} needs {name} to build on {platform}, and no build requirement of that name is locked",
                        record.version
                    ),
                ));
            }
        }
    }
    let reached = reachable(needed, |name| {
        build
            .get(name)
            .map(|p| p.dependencies.keys().cloned().collect())
            .unwrap_or_default()
    });
    for (name, package) in &build {
        if !reached.contains(*name) {
            findings.push(Finding::lock(
                lockfile,
                Some(platform),
                DriftKind::Unneeded,
                format!(
                    "{} {} (build requirement) is locked for {platform} but no locked sdist needs it",
                    package.name, package.version
                ),
            ));
        }
        for (dep, constraint) in &package.dependencies {
            let met = build.get(dep.as_str()).is_some_and(|d| {
                constraint == "*"
                    || constraint.is_empty()
                    || meets(
                        pep440_rs::Version::from_str(&d.version).ok().as_ref(),
                        constraint,
                    )
            });
            if !met {
                findings.push(Finding::lock(
                    lockfile,
                    Some(platform),
                    DriftKind::UnmetDependency,
                    format!(
                        "{} {} (build requirement) locked for {platform} depends on {dep} {constraint}, which no build requirement locked for {platform} satisfies",
                        package.name, package.version
                    ),
                ));
            }
        }
    }
}

/// Whether a locked `version` (`None`: nothing locked) meets a lock's dependency `constraint`
/// (`*` or empty: any version).
fn meets(version: Option<&pep440_rs::Version>, constraint: &str) -> bool {
    match version {
        None => false,
        Some(_) if constraint == "*" || constraint.is_empty() => true,
        Some(v) => pep440_rs::VersionSpecifiers::from_str(constraint).is_ok_and(|s| s.contains(v)),
    }
}
