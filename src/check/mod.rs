//! `envlock check`: does the lockfile still satisfy the inputs, and are the Dockerfile and its
//! files exactly what `envlock dockerfile` would render from it? No solve, no network.
//!
//! Checked, per locked platform:
//! - the lock is as envlock wrote it (a checksum of its package entries, so hand edits of a
//!   version, a hash, a URL or a removed package are found without the network);
//! - platforms, channels, the channel alias, virtual packages, `--exclude-newer` and package
//!   indexes agree with the inputs and options;
//! - every conda spec and every pip requirement (markers evaluated for the platform) is matched
//!   by a locked package, and every pip constraint holds;
//! - every locked package's dependencies are met inside the lock (conda packages by conda
//!   packages and virtual packages; pip packages by pip packages or what conda provides);
//! - nothing is locked that no input needs;
//! - the Dockerfile and `envlock/` files are byte-identical to what the options recorded by the
//!   last `envlock dockerfile` run render from this lock.
//!
//! The lock's input content hash is not used as a shortcut: every test above is cheap, and a
//! hash alone is both too strict (any edit to a comment changes it) and too loose (it cannot see
//! a hand-edited lock).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::{Path, PathBuf},
    str::FromStr,
};

use anyhow::Result;
use rattler_conda_lock::{LockFile, Manager, Package};
use rattler_conda_types::{
    GenericVirtualPackage, MatchSpec, Matches, PackageName, PackageRecord, ParseStrictness, Subdir,
};

use crate::{
    inputs::{
        Location, Prepared,
        target::{parse_virtual_package, virtual_packages},
    },
    lock::{
        self, META_CHANNEL_ALIAS, META_EXCLUDE_NEWER, META_PACKAGES_SHA256, META_PYPI_INDEXES,
        META_VIRTUAL_PACKAGES,
    },
    render::plan::{DockerfileRequest, choose_base, render_all},
    solve::pypi::{mapping::Mapping, tags::Target},
    util::redact,
};

/// What fixes a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    Resolve,
    Dockerfile,
}

impl Fix {
    pub fn command(self) -> &'static str {
        match self {
            Fix::Resolve => "envlock resolve",
            Fix::Dockerfile => "envlock dockerfile",
        }
    }
}

/// One disagreement between inputs, lock and rendered files.
#[derive(Debug, Clone)]
pub struct Finding {
    pub message: String,
    /// The file (and line) the finding is about, for annotations.
    pub file: PathBuf,
    pub line: Option<usize>,
    pub platform: Option<String>,
    pub fix: Fix,
    /// About options (platforms, channels, virtual packages, ...) rather than specs or files:
    /// `dockerfile --locked`, which is not given those options, ignores these.
    pub about_options: bool,
}

impl Finding {
    fn at(location: &Location, platform: Option<&str>, message: String) -> Finding {
        Finding {
            message,
            file: location.file.clone(),
            line: Some(location.line),
            platform: platform.map(str::to_string),
            fix: Fix::Resolve,
            about_options: false,
        }
    }

    fn lock(lockfile: &Path, platform: Option<&str>, message: String) -> Finding {
        Finding {
            message,
            file: lockfile.to_path_buf(),
            line: None,
            platform: platform.map(str::to_string),
            fix: Fix::Resolve,
            about_options: false,
        }
    }

    fn option(lockfile: &Path, message: String) -> Finding {
        Finding {
            about_options: true,
            ..Finding::lock(lockfile, None, message)
        }
    }
}

/// Everything [`check`] found, and where the lockfile is.
pub struct Report {
    pub lockfile: PathBuf,
    pub findings: Vec<Finding>,
}

/// Compares the prepared inputs with the lock at `prepared.lockfile` and the rendered files.
pub fn check(prepared: &Prepared) -> Result<Report> {
    let lock = lock::read(&prepared.lockfile)?;
    let mut findings = Vec::new();
    let lockfile = &prepared.lockfile;
    let custom = lock.metadata.custom_metadata.clone().unwrap_or_default();

    // The lock is as envlock wrote it.
    let actual = lock.compute_content_hashes();
    for platform in &lock.metadata.platforms {
        if let Some(recorded) = custom.get(&format!("{META_PACKAGES_SHA256}{platform}"))
            && actual.get(platform) != Some(recorded)
        {
            findings.push(Finding::lock(
                    lockfile,
                    Some(platform),
                    format!(
                        "the {platform} packages in {} were changed after envlock wrote them (a version, hash, URL or package was edited, added or removed)",
                        lockfile.display()
                    ),
                ));
        }
    }

    options_agree(prepared, &lock, &custom, &mut findings);

    let mapping = match &prepared.pypi_mapping {
        Some(path) => Mapping::with_file(path)?,
        None => Mapping::builtin(),
    };
    for platform in &lock.metadata.platforms {
        let packages: Vec<&Package> = lock
            .package
            .iter()
            .filter(|p| &p.platform == platform)
            .collect();
        let vps = custom
            .get(&format!("{META_VIRTUAL_PACKAGES}{platform}"))
            .map(|v| parse_virtual_packages(v))
            .transpose()?
            .unwrap_or_default();
        conda_satisfied(prepared, lockfile, platform, &packages, &vps, &mut findings)?;
        pip_satisfied(
            prepared,
            lockfile,
            platform,
            &packages,
            &vps,
            &mapping,
            &mut findings,
        )?;
    }

    rendered_files_match(&lock, lockfile, &mut findings)?;
    findings.sort_by(|a, b| {
        (&a.file, a.line, &a.platform, &a.message).cmp(&(&b.file, b.line, &b.platform, &b.message))
    });
    findings.dedup_by(|a, b| a.message == b.message);
    Ok(Report {
        lockfile: lockfile.clone(),
        findings,
    })
}

/// Platforms, channels, alias, virtual packages, cutoff and indexes.
fn options_agree(
    prepared: &Prepared,
    lock: &LockFile,
    custom: &BTreeMap<String, String>,
    findings: &mut Vec<Finding>,
) {
    let lockfile = &prepared.lockfile;
    let mut wanted: Vec<String> = prepared.platforms.iter().map(Subdir::to_string).collect();
    let mut locked = lock.metadata.platforms.clone();
    wanted.sort();
    locked.sort();
    if wanted != locked {
        findings.push(Finding::option(
            lockfile,
            format!(
                "the lock has platforms [{}] but the inputs and options ask for [{}]",
                locked.join(", "),
                wanted.join(", ")
            ),
        ));
    }
    let channels = lock::recorded_channels(&prepared.inputs);
    let locked_channels: Vec<String> = lock
        .metadata
        .channels
        .iter()
        .map(|c| c.url.clone())
        .collect();
    if channels != locked_channels {
        findings.push(Finding::option(
            lockfile,
            format!(
                "the lock was solved with channels [{}] but the inputs list [{}]",
                locked_channels.join(", "),
                channels.join(", ")
            ),
        ));
    }
    let expect = |key: &str, wanted: Option<String>, what: &str, findings: &mut Vec<Finding>| {
        let recorded = custom.get(key).cloned();
        // Locks written by other tools do not record envlock's facts; nothing to compare.
        if recorded.is_none() && !custom.contains_key(lock::META_VERSION) {
            return;
        }
        if recorded != wanted {
            findings.push(Finding::option(
                lockfile,
                format!(
                    "{what} is {} in the lock but {} now",
                    recorded.as_deref().unwrap_or("unset"),
                    wanted.as_deref().unwrap_or("unset")
                ),
            ));
        }
    };
    expect(
        META_CHANNEL_ALIAS,
        Some(redact::url(&prepared.settings.alias).to_string()),
        "the channel alias",
        findings,
    );
    expect(
        META_EXCLUDE_NEWER,
        prepared.exclude_newer.map(|t| t.to_string()),
        "--exclude-newer",
        findings,
    );
    if !prepared.inputs.pypi.requirements.is_empty() {
        let indexes: Vec<String> = prepared
            .indexes
            .iter()
            .map(|u| redact::url(u).to_string())
            .collect();
        expect(
            META_PYPI_INDEXES,
            Some(indexes.join(",")),
            "the package index list",
            findings,
        );
        // Extras change what is locked without changing any version constraint.
        let extras = lock::requested_extras(&prepared.inputs).join(",");
        let recorded = custom.get(lock::META_PYPI_EXTRAS);
        if custom.contains_key(lock::META_VERSION) && recorded != Some(&extras) {
            findings.push(Finding::lock(
                lockfile,
                None,
                format!(
                    "the pip requirements ask for the extras [{extras}] but the lock was resolved for [{}]",
                    recorded.map_or("", String::as_str)
                ),
            ));
        }
    }
    // Everything the options decide is in one fingerprint; the checks above name most of it,
    // and this catches the rest (pip's --pre, --only-binary, --no-binary, --prefer-binary).
    let named = findings.iter().any(|f| f.about_options);
    if let Some(recorded) = custom.get(lock::META_OPTIONS_SHA256)
        && !named
        && *recorded != lock::options_fingerprint(prepared)
    {
        findings.push(Finding::option(
            lockfile,
            "the resolution options changed since the lock was made \
             (pip's --pre, --only-binary, --no-binary or --prefer-binary)"
                .to_string(),
        ));
    }
    for platform in &prepared.platforms {
        let wanted: Vec<String> = virtual_packages(*platform, &prepared.virtual_packages)
            .iter()
            .map(|v| v.to_string())
            .collect();
        expect(
            &format!("{META_VIRTUAL_PACKAGES}{platform}"),
            Some(wanted.join(",")),
            &format!("the virtual package set for {platform}"),
            findings,
        );
    }
}

fn parse_virtual_packages(value: &str) -> Result<Vec<GenericVirtualPackage>> {
    value
        .split(',')
        .filter(|s| !s.is_empty())
        .map(parse_virtual_package)
        .collect()
}

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
fn conda_satisfied(
    prepared: &Prepared,
    lockfile: &Path,
    platform: &str,
    packages: &[&Package],
    vps: &[GenericVirtualPackage],
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
        let what = match locked {
            Some(l) => format!("is not satisfied by {l} locked for {platform}"),
            None => format!("has nothing locked for {platform}"),
        };
        findings.push(Finding::at(
            &dependency.location,
            Some(platform),
            format!(
                "`{}` in {} {what}",
                redact::text(&spec.to_string()),
                dependency.location
            ),
        ));
    }
    for (package, record) in &conda {
        for dep in &record.depends {
            let met =
                MatchSpec::from_str(dep, ParseStrictness::Lenient).is_ok_and(|s| satisfied(&s));
            if !met {
                findings.push(Finding::lock(
                    lockfile,
                    Some(platform),
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
                format!(
                    "{} {} is locked for {platform} but nothing in the inputs needs it",
                    package.name, package.version
                ),
            ));
        }
    }
    Ok(())
}

/// Names reachable from `roots` through `edges`.
fn reachable(roots: Vec<String>, edges: impl Fn(&str) -> Vec<String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = roots;
    while let Some(name) = stack.pop() {
        if seen.insert(name.clone()) {
            stack.extend(edges(&name));
        }
    }
    seen
}

/// Every pip requirement matched, every constraint held, every pip dependency met, nothing
/// unneeded.
fn pip_satisfied(
    prepared: &Prepared,
    lockfile: &Path,
    platform: &str,
    packages: &[&Package],
    vps: &[GenericVirtualPackage],
    mapping: &Mapping,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let pip: Vec<&Package> = packages
        .iter()
        .copied()
        .filter(|p| p.manager == Manager::Pip)
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
            let what = match version_of(name) {
                Some(v) => format!("is not satisfied by {name} {v} locked for {platform}"),
                None => format!("has nothing locked for {platform}"),
            };
            findings.push(Finding::at(
                &r.location,
                Some(platform),
                format!(
                    "`{}` in {} {what}",
                    redact::text(&r.requirement.to_string()),
                    r.location
                ),
            ));
        }
    }
    for (package, _) in locked.values() {
        for (dep, constraint) in &package.dependencies {
            let Ok(dep_name) = pep508_rs::PackageName::from_str(dep) else {
                continue;
            };
            let met = match version_of(&dep_name) {
                None => false,
                Some(_) if constraint == "*" || constraint.is_empty() => true,
                Some(v) => {
                    pep440_rs::VersionSpecifiers::from_str(constraint).is_ok_and(|s| s.contains(&v))
                }
            };
            if !met {
                findings.push(Finding::lock(
                    lockfile,
                    Some(platform),
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
                format!(
                    "{} {} (pip) is locked for {platform} but nothing in the inputs needs it",
                    package.name, package.version
                ),
            ));
        }
    }
    Ok(())
}

/// The Dockerfile and `envlock/` files, rendered in memory with the recorded options.
fn rendered_files_match(
    lock: &LockFile,
    lockfile: &Path,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let Some(mut request) = DockerfileRequest::recorded(lock, lockfile)? else {
        return Ok(());
    };
    // The base as `envlock dockerfile` would choose it now: the recorded one, unless it no longer
    // fits the lock (a venv base for another python), in which case it would be re-pinned.
    let Some(recorded) = request.base.take() else {
        return Ok(());
    };
    let base = choose_base(lock, &request)?;
    if base.digest.is_none() {
        findings.push(Finding {
            message: format!(
                "the recorded base {recorded} no longer fits {} (its python changed)",
                lockfile.display()
            ),
            file: request.output.clone(),
            line: None,
            platform: None,
            fix: Fix::Dockerfile,
            about_options: false,
        });
        return Ok(());
    }
    for file in render_all(lock, &request, &base)? {
        if file.keep_existing {
            continue;
        }
        let message = match std::fs::read_to_string(&file.path) {
            Ok(text) if text == file.text => continue,
            Ok(_) => format!(
                "{} is not what `envlock dockerfile` renders from {}",
                file.path.display(),
                lockfile.display()
            ),
            Err(_) => format!("{} is missing", file.path.display()),
        };
        findings.push(Finding {
            message,
            file: file.path.clone(),
            line: None,
            platform: None,
            fix: Fix::Dockerfile,
            about_options: false,
        });
    }
    Ok(())
}
