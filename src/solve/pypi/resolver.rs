//! The PyPI resolver: pubgrub over PEP 440 versions, once per target platform.
//!
//! Supported: requirements with extras and markers (evaluated for the target), constraints
//! (`-c`), yanked files (only when pinned with `==`, PEP 592), `requires-python` of files and
//! metadata, pre-releases (only with `--pre`, or when nothing else satisfies a range), upload-time
//! cutoffs (`--exclude-newer`), `--only-binary`/`--no-binary`/`--prefer-binary`, and packages the
//! conda solve installs, which are fixed at their conda version and never installed by pip.
//!
//! An sdist whose metadata cannot be built makes only that version unusable: the resolver moves
//! on to another version, and the build's failure is reported only when no version will do.
//!
//! A project's files are grouped by version, and a version's files are ranked for the target only
//! when pubgrub first asks about it ([`Candidates`]). When the resolution fails, the versions of
//! each package pubgrub found none of are classified with their reasons ([`Unusable`]) and
//! `report` says why each one was left out.
//!
//! Not supported: direct URL references inside package metadata, and universal (all-platform) resolution: each target
//! platform is resolved on its own.
//!
//! pubgrub asks for one package at a time, synchronously; the index client is async. The
//! resolver therefore runs on a blocking thread and waits for each answer, while the client
//! fetches ahead: when a package's dependencies are known, their project pages (and the metadata
//! of each one's likely version) are requested in the background.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    fmt,
    sync::{Arc, Mutex},
};

use anyhow::Result;
use pep440_rs::Version;
use pep508_rs::{ExtraName, PackageName, Requirement, VersionOrUrl};
use pubgrub::{
    DefaultStringReporter, Dependencies, DependencyProvider, PackageResolutionStatistics,
    PubGrubError, Ranges, Reporter,
};
use tokio::runtime::Handle;

pub use super::graph::{Options, Pkg, Unusable, Warnings};
use super::{
    candidates::{Candidates, classify},
    conflicts::{self, Moved},
    index::{BuildFailed, DistFile, DistKind, IndexClient, InvalidMetadata},
    ranges,
    report::{Context, Unavailable},
    tags::Target,
};
use crate::{inputs::requirements::PipRequirement, util::error::Failure};

/// One locked distribution.
#[derive(Debug, Clone)]
pub struct Pinned {
    /// The project.
    pub name: PackageName,
    /// The version chosen.
    pub version: Version,
    /// The file to install for this target: the best wheel, or the sdist.
    pub file: DistFile,
    /// Dependencies that apply on this target, with their version constraints.
    pub dependencies: BTreeMap<PackageName, String>,
}

/// Resolves `requirements` for `target`. `conda` maps PyPI names to the versions the conda
/// solve installs; those are fixed and left out of the result.
pub async fn resolve(
    client: Arc<IndexClient>,
    requirements: &[PipRequirement],
    constraints: &[PipRequirement],
    target: &Target,
    conda: &HashMap<PackageName, Version>,
    options: &Options,
) -> Result<Vec<Pinned>> {
    let env = target.marker_environment();
    let mut root = Vec::new();
    let mut root_locations: HashMap<PackageName, String> = HashMap::new();
    let mut direct: HashMap<PackageName, DistFile> = HashMap::new();
    let mut hashes: HashMap<PackageName, Vec<String>> = HashMap::new();
    let mut skipped: Vec<(PackageName, String)> = Vec::new();
    for r in requirements {
        if !r.requirement.marker.evaluate(&env, &[]) {
            skipped.push((
                r.requirement.name.clone(),
                format!(
                    "`{}` ({})",
                    crate::util::redact::text(&r.requirement.to_string()),
                    r.location
                ),
            ));
            continue;
        }
        if let Some(VersionOrUrl::Url(url)) = &r.requirement.version_or_url {
            let file = DistFile::from_url(&client, &r.requirement.name, url, sha256_of(r))
                .await
                .map_err(|e| match e.downcast::<Failure>() {
                    Ok(mut failure) => {
                        failure.message = format!("{}: {}", r.location, failure.message);
                        failure.into()
                    }
                    Err(e) => anyhow::anyhow!("{}: {e:#}", r.location),
                })?;
            direct.insert(r.requirement.name.clone(), file);
        }
        let allowed: Vec<String> = r
            .hashes
            .iter()
            .filter_map(|h| h.strip_prefix("sha256:").map(str::to_ascii_lowercase))
            .collect();
        if !r.hashes.is_empty() && allowed.is_empty() {
            return Err(Failure::new(format!(
                "{}: only sha256 `--hash` values can be checked against the index",
                r.location
            ))
            .hint("add the file's `--hash=sha256:…`")
            .into());
        }
        if !allowed.is_empty() {
            hashes
                .entry(r.requirement.name.clone())
                .or_default()
                .extend(allowed);
        }
        if let Some(installed) = conda.get(&r.requirement.name)
            && !ranges::of(&r.requirement).contains(installed)
        {
            return Err(Failure::new(format!(
                "{}: `{}` is not satisfied by {} {}, which the conda solve installs for {}",
                r.location,
                r.requirement,
                r.requirement.name,
                installed,
                target.platform()
            ))
            .hint("relax one of the two: the pip requirement, or the conda spec that pulls it in")
            .into());
        }
        root_locations
            .entry(r.requirement.name.clone())
            .or_insert_with(|| r.location.to_string());
        root.push(r.requirement.clone());
    }
    contradictions(requirements, constraints, &env, target)?;
    let mut constraint_ranges: HashMap<PackageName, Ranges<Version>> = HashMap::new();
    for c in constraints {
        if let Some(installed) = conda.get(&c.requirement.name)
            && c.requirement.marker.evaluate(&env, &[])
            && !ranges::of(&c.requirement).contains(installed)
        {
            return Err(Failure::new(format!(
                "{}: the constraint `{}` excludes {} {installed}, which the conda solve installs for {}",
                c.location,
                crate::util::redact::text(&c.requirement.to_string()),
                c.requirement.name,
                target.platform()
            ))
            .hint("relax the constraint, or the conda spec that pulls the package in")
            .into());
        }
        if c.requirement.marker.evaluate(&env, &[]) {
            let entry = constraint_ranges
                .entry(c.requirement.name.clone())
                .or_insert_with(Ranges::full);
            *entry = entry.intersection(&ranges::of(&c.requirement));
        }
    }

    let provider = Provider {
        client,
        handle: Handle::current(),
        target: target.clone(),
        env,
        root,
        root_locations,
        conda: conda.clone(),
        constraints: constraint_ranges,
        direct,
        hashes,
        options: options.clone(),
        skipped,
        chosen: Mutex::default(),
        candidates: CandidatesByName::default(),
        build_failures: Mutex::default(),
        hints: Mutex::default(),
        seen: Mutex::default(),
        missing_extras: Mutex::default(),
        conflicts: Mutex::default(),
        failed_builds: Mutex::default(),
    };
    for r in &provider.root {
        provider.prefetch(&r.name);
    }
    tokio::task::spawn_blocking(move || provider.run())
        .await
        .map_err(|e| anyhow::anyhow!("resolver thread failed: {e}"))?
}

/// Fails when what is written for one package allows no version at all (`x==2.1.0` in an
/// included file and `x==0.4.1` in the file that includes it, or a constraint that excludes a
/// requirement), naming the two lines: the solver would only see an empty version set. As pip,
/// which refuses the same pair; constraints on a package no requirement names are left alone.
fn contradictions(
    requirements: &[PipRequirement],
    constraints: &[PipRequirement],
    env: &pep508_rs::MarkerEnvironment,
    target: &Target,
) -> Result<()> {
    let applies = |r: &&PipRequirement| {
        r.requirement.marker.evaluate(env, &[])
            && matches!(
                r.requirement.version_or_url,
                Some(VersionOrUrl::VersionSpecifier(_))
            )
    };
    let written = |r: &PipRequirement, constraint: bool| {
        format!(
            "{}`{}` ({})",
            if constraint { "the constraint " } else { "" },
            crate::util::redact::text(&r.requirement.to_string()),
            r.location
        )
    };
    let constraints: Vec<&PipRequirement> = constraints.iter().filter(applies).collect();
    let requirements: Vec<&PipRequirement> = requirements.iter().filter(applies).collect();
    let mut names: Vec<&PackageName> = Vec::new();
    for r in &requirements {
        if !names.contains(&&r.requirement.name) {
            names.push(&r.requirement.name);
        }
    }
    for name in names {
        // The package's requirements in the order written, then its constraints.
        let lines: Vec<(&PipRequirement, bool)> = requirements
            .iter()
            .filter(|r| &r.requirement.name == name)
            .map(|r| (*r, false))
            .chain(
                constraints
                    .iter()
                    .filter(|c| &c.requirement.name == name)
                    .map(|c| (*c, true)),
            )
            .collect();
        let all = lines.iter().fold(Ranges::full(), |range, (line, _)| {
            range.intersection(&ranges::of(&line.requirement))
        });
        if !all.is_empty() {
            continue;
        }
        if let Some((r, _)) = lines
            .iter()
            .find(|(l, constraint)| !constraint && ranges::of(&l.requirement).is_empty())
        {
            return Err(Failure::new(format!(
                "{}: `{}` allows no version of `{name}`",
                r.location,
                crate::util::redact::text(&r.requirement.to_string()),
            ))
            .hint("its version specifiers exclude each other; write the range meant")
            .into());
        }
        // Two lines that exclude each other: a requirement against an earlier one or against
        // a constraint.
        let pair = lines
            .iter()
            .enumerate()
            .filter(|(_, (_, constraint))| !constraint)
            .find_map(|(i, (r, _))| {
                let range = ranges::of(&r.requirement);
                let earlier = lines[..i].iter().filter(|(_, c)| !c);
                let against = lines.iter().filter(|(_, c)| *c);
                earlier
                    .chain(against)
                    .find(|(other, _)| {
                        range
                            .intersection(&ranges::of(&other.requirement))
                            .is_empty()
                    })
                    .map(|other| (*other, *r))
            });
        return Err(match pair {
            Some(((other, constraint), r)) => Failure::new(format!(
                "the pip requirements cannot be satisfied for {}: no version of `{name}` is \
                 allowed by both {} and {}",
                target.platform(),
                written(other, constraint),
                written(r, false),
            ))
            .hint(if constraint {
                "relax the constraint or the requirement; a constraint only narrows what is \
                 required"
            } else {
                "keep one of the two lines: pip, too, installs a package at one version, and a \
                 file's own line does not override one from a file it includes"
            }),
            // No two exclude each other, but together they do (`!=1.0`, `>=1.0`, `<=1.0`).
            None => Failure::new(format!(
                "the pip requirements cannot be satisfied for {}: no version of `{name}` is \
                 allowed by all of {}",
                target.platform(),
                lines
                    .iter()
                    .map(|(l, c)| written(l, *c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .hint("relax one of these lines"),
        }
        .into());
    }
    Ok(())
}

/// The sha256 a requirement's `--hash` options give, if any.
fn sha256_of(r: &PipRequirement) -> Option<String> {
    r.hashes
        .iter()
        .find_map(|h| h.strip_prefix("sha256:"))
        .map(str::to_ascii_lowercase)
}

struct Provider {
    client: Arc<IndexClient>,
    handle: Handle,
    target: Target,
    env: pep508_rs::MarkerEnvironment,
    root: Vec<Requirement>,
    /// Where each root requirement was written (`file:line:column`), for the failure report.
    root_locations: HashMap<PackageName, String>,
    conda: HashMap<PackageName, Version>,
    constraints: HashMap<PackageName, Ranges<Version>>,
    /// Packages named by a direct URL: that file is their only candidate.
    direct: HashMap<PackageName, DistFile>,
    /// sha256 values the user's `--hash` options allow, per package.
    hashes: HashMap<PackageName, Vec<String>>,
    options: Options,
    /// Root requirements left out because their marker is false here, each as
    /// `` `requirement` (file:line:column) ``, for the failure report.
    skipped: Vec<(PackageName, String)>,
    /// The file picked for each (package, version) by `choose_version`, and the file whose
    /// metadata gives its dependencies ([`Candidates::metadata_file`]).
    chosen: Mutex<HashMap<(PackageName, Version), (DistFile, DistFile)>>,
    /// The candidates of each project, made once: pubgrub asks about a package many times.
    candidates: CandidatesByName,
    /// Versions left out because their sdist's metadata could not be built or their published
    /// metadata is invalid, with what to do about it.
    build_failures: Mutex<Vec<BuildFailed>>,
    /// What to do about the versions pubgrub found unusable only once their metadata was read
    /// (its `Requires-Python`), for the failure report.
    hints: Mutex<Vec<String>>,
    /// Each package in the order it was first named as a dependency ([`Provider::available`]).
    seen: Mutex<HashMap<Pkg, u32>>,
    /// `name[extra]` asked of versions that do not provide the extra: as pip and uv do, those
    /// versions are used without it (and a warning says so when the result keeps one).
    missing_extras: Mutex<HashSet<(PackageName, Version, ExtraName)>>,
    /// Packages that kept conflicting, decided earlier or later on the next attempt.
    conflicts: Mutex<conflicts::Tracker>,
    /// The versions of each project whose sdist's metadata build failed, and those then left
    /// out unbuilt ([`MAX_FAILED_BUILDS`]).
    failed_builds: Mutex<HashMap<PackageName, FailedBuilds>>,
}

/// One project's versions whose metadata build failed, and those left out unbuilt after
/// [`MAX_FAILED_BUILDS`] failures.
#[derive(Default)]
struct FailedBuilds {
    failed: BTreeSet<Version>,
    not_built: BTreeSet<Version>,
}

/// After this many failed metadata builds of one project's sdists, its other sdist-only
/// versions are left out unbuilt unless pinned: versions with wheels are still tried.
/// Backtracking through an old project whose every sdist fails on this python (mmcv's hundred,
/// each needing `pkg_resources`) would otherwise build them all, for minutes, to fail anyway.
/// pip and uv stop at the first failed build; envlock goes on past a few, which locks what they
/// refuse: the deprecated `sklearn` fails to build on purpose in 7 versions before its
/// 0.0.post1, which locks (a cap of 5 lost that lock in the real-world bench). (An sdist-only version whose metadata is static is left out too: rare among the old
/// releases this is about.)
const MAX_FAILED_BUILDS: usize = 10;

/// [`Candidates`] by project, shared with the background fetches that make them early.
type CandidatesByName = Arc<Mutex<HashMap<PackageName, Arc<Candidates>>>>;

/// Resolution errors that are not conflicts: a message and, where there is one, a hint.
#[derive(Debug)]
struct ProviderError {
    message: String,
    hint: Option<String>,
}

impl ProviderError {
    fn msg(message: String) -> ProviderError {
        ProviderError {
            message,
            hint: None,
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProviderError {}

impl From<anyhow::Error> for ProviderError {
    fn from(e: anyhow::Error) -> Self {
        let hint = e
            .chain()
            .find_map(|c| c.downcast_ref::<Failure>())
            .and_then(|f| f.hint.clone());
        ProviderError {
            message: format!("{e:#}"),
            hint,
        }
    }
}

impl Provider {
    fn run(self) -> Result<Vec<Pinned>> {
        let result = loop {
            let result = pubgrub::resolve(&self, Pkg::Root, Version::new([0]));
            let restart = matches!(
                result,
                Err(PubGrubError::ErrorRetrievingDependencies { .. })
            ) && self.conflicts.lock().expect("not poisoned").take_restart();
            if !restart {
                break result;
            }
        };
        let solution = match result {
            Ok(solution) => solution,
            Err(PubGrubError::NoSolution(mut tree)) => {
                let unavailable = self.unavailable(&tree);
                // "No version of `x`" stays in the derivation where the lines after it say
                // why; elsewhere it merges into the step it belongs to.
                let explained = |p: &Pkg| match p {
                    Pkg::Name(n) | Pkg::Extra(n, _) => unavailable.iter().any(|u| &u.name == n),
                    _ => false,
                };
                super::report::collapse_no_versions(&mut tree, &explained);
                let context = Context {
                    target: &self.target,
                    exclude_newer: self.options.exclude_newer,
                };
                let mut report = DefaultStringReporter::report_with_formatter(
                    &tree,
                    &super::report::Formatter {
                        roots: &self.root_locations,
                        unavailable: &unavailable,
                    },
                );
                let (lines, mut hints) = super::report::unavailable(&unavailable, &context);
                for line in lines {
                    report.push_str(&format!("\n{line}"));
                }
                let builds = self.build_failures.lock().expect("not poisoned");
                for build in builds.iter() {
                    report.push_str(&format!("\n{}", build.message));
                    hints.push(build.hint.clone());
                }
                hints.extend(self.hints.lock().expect("not poisoned").iter().cloned());
                let mut unique: Vec<String> = Vec::new();
                for h in hints {
                    if !unique.contains(&h) {
                        unique.push(h);
                    }
                }
                let hint = if unique.is_empty() {
                    "relax the version constraints named above".to_string()
                } else {
                    unique.join("; ")
                };
                return Err(Failure::new(format!(
                    "the pip requirements cannot be satisfied for {}:\n{report}",
                    self.target.platform()
                ))
                .hint(hint)
                .into());
            }
            Err(PubGrubError::ErrorChoosingVersion { source, .. }) => {
                return Err(failure(source, self.target.platform()));
            }
            Err(PubGrubError::ErrorRetrievingDependencies {
                package,
                version,
                source,
            }) => {
                let context = match package {
                    Pkg::Root | Pkg::Conda => String::new(),
                    _ => format!("{package} {version}: "),
                };
                let source = ProviderError {
                    message: format!("{context}{}", source.message),
                    hint: source.hint,
                };
                return Err(failure(source, self.target.platform()));
            }
            Err(e) => return Err(anyhow::anyhow!("{e}")),
        };
        let chosen = self.chosen.lock().expect("not poisoned");
        // The extras each package was resolved with: their dependencies are its dependencies too.
        let mut extras: HashMap<PackageName, Vec<ExtraName>> = HashMap::new();
        for (pkg, _) in solution.iter() {
            if let Pkg::Extra(name, extra) = pkg {
                extras.entry(name.clone()).or_default().push(extra.clone());
            }
        }
        let missing = self.missing_extras.lock().expect("not poisoned");
        let mut warnings = self.options.warnings.lock().expect("not poisoned");
        for (pkg, version) in solution.iter() {
            if let Pkg::Extra(name, extra) = pkg
                && missing.contains(&(name.clone(), version.clone(), extra.clone()))
            {
                warnings.insert(format!(
                    "{name} {version} does not provide the extra `{extra}` that `{name}[{extra}]` \
                     asks for; it is locked without it, as pip and uv install it"
                ));
            }
        }
        drop((missing, warnings));
        let mut pinned = Vec::new();
        for (pkg, version) in solution {
            let Pkg::Name(name) = pkg else { continue };
            if self.conda.contains_key(&name) {
                continue;
            }
            let (file, metadata_file) = chosen
                .get(&(name.clone(), version.clone()))
                .cloned()
                .ok_or_else(|| {
                    anyhow::anyhow!("internal error: no file chosen for {name} {version}")
                })?;
            let metadata = self.handle.block_on(self.client.metadata(&metadata_file))?;
            let mut dependencies: BTreeMap<PackageName, String> = BTreeMap::new();
            let active = extras.get(&name).map_or(&[][..], Vec::as_slice);
            for r in &metadata.requires_dist {
                if !r.marker.evaluate(&self.env, active) {
                    continue;
                }
                let spec = match &r.version_or_url {
                    Some(VersionOrUrl::VersionSpecifier(s)) => s.to_string(),
                    _ => String::new(),
                };
                merge_constraint(dependencies.entry(r.name.clone()).or_default(), &spec);
            }
            pinned.push(Pinned {
                name,
                version,
                file,
                dependencies,
            });
        }
        pinned.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(pinned)
    }

    /// "No such project", with the closest names when the index lists them, or a well-known
    /// import-name alias.
    fn not_found(&self, name: &PackageName) -> String {
        const ALIASES: &[(&str, &str)] = &[
            ("sklearn", "scikit-learn"),
            ("cv2", "opencv-python"),
            ("yaml", "pyyaml"),
            ("pil", "pillow"),
            ("bs4", "beautifulsoup4"),
            ("dateutil", "python-dateutil"),
            ("dotenv", "python-dotenv"),
        ];
        let mut message = format!("no project named `{name}` on the package index");
        let mut suggestions: Vec<String> = ALIASES
            .iter()
            .filter(|(alias, _)| *alias == name.as_ref())
            .map(|(_, real)| real.to_string())
            .collect();
        if let Some(names) = self.handle.block_on(self.client.project_names()) {
            let mut scored: Vec<(f64, String)> = names
                .into_iter()
                .map(|n| (strsim::jaro_winkler(name.as_ref(), &n.to_lowercase()), n))
                .filter(|(score, _)| *score > 0.85)
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            suggestions.extend(scored.into_iter().take(3).map(|(_, n)| n));
        }
        if !suggestions.is_empty() {
            message.push_str(&format!("; did you mean {}?", suggestions.join(", ")));
        }
        message
    }

    /// The versions of `name` and their files for this target.
    fn candidates(&self, name: &PackageName) -> Result<Arc<Candidates>, ProviderError> {
        if let Some(file) = self.direct.get(name) {
            return Ok(Arc::new(Candidates::direct(file.clone())));
        }
        if let Some(candidates) = self.candidates.lock().expect("not poisoned").get(name) {
            return Ok(candidates.clone());
        }
        let Some(project) = self.handle.block_on(self.client.project(name))? else {
            return Err(ProviderError::msg(self.not_found(name)));
        };
        let candidates = Arc::new(Candidates::new(
            project,
            self.hashes.get(name).cloned(),
            &self.target,
            &self.options,
        ));
        Ok(self
            .candidates
            .lock()
            .expect("not poisoned")
            .entry(name.clone())
            .or_insert(candidates)
            .clone())
    }

    /// Fetches a project page in the background and, as soon as it arrives, the metadata of
    /// the version most likely to be chosen, so that pubgrub rarely waits on the network: it
    /// asks for one package at a time, and without this each metadata fetch would start only
    /// when its package's turn comes.
    fn prefetch(&self, name: &PackageName) {
        if self.conda.contains_key(name) || self.direct.contains_key(name) {
            return;
        }
        let client = self.client.clone();
        let target = self.target.clone();
        let options = self.options.clone();
        let hashes = self.hashes.get(name).cloned();
        let name = name.clone();
        let memo = self.candidates.clone();
        self.handle.spawn(async move {
            let Ok(Some(project)) = client.project(&name).await else {
                return;
            };
            let known = memo.lock().expect("not poisoned").get(&name).cloned();
            let candidates = known.unwrap_or_else(|| {
                let made = Arc::new(Candidates::new(project, hashes, &target, &options));
                memo.lock()
                    .expect("not poisoned")
                    .entry(name.clone())
                    .or_insert(made)
                    .clone()
            });
            let likely = candidates.pick(
                &Ranges::full(),
                options.preferred.get(&name),
                &target,
                &options,
            );
            if let Some((version, file)) = likely {
                let file = candidates.metadata_file(&version, &file, &options);
                let _ = client.metadata(&file).await;
            }
        });
    }

    /// For each package the failed resolution found no version of (pubgrub's `NoVersions`),
    /// why each of its versions in that range cannot be used; and the root requirements on the
    /// packages of the failure that their markers left out.
    fn unavailable(
        &self,
        tree: &pubgrub::DerivationTree<Pkg, Ranges<Version>, Unusable>,
    ) -> Vec<Unavailable> {
        let mut missing: BTreeMap<PackageName, Ranges<Version>> = BTreeMap::new();
        no_versions(tree, &mut missing);
        let mut out = Vec::new();
        for (name, range) in missing {
            if self.conda.contains_key(&name) || self.direct.contains_key(&name) {
                continue;
            }
            let Ok(Some(project)) = self.handle.block_on(self.client.project(&name)) else {
                continue;
            };
            if project.files().next().is_none() {
                out.push(Unavailable {
                    empty_page: project
                        .index
                        .join(&format!("{name}/"))
                        .ok()
                        .map(String::from),
                    name,
                    versions: Vec::new(),
                    skipped: Vec::new(),
                });
                continue;
            }
            let (usable, mut unusable) = classify(
                project.files(),
                &name,
                &self.target,
                &self.options,
                self.hashes.get(&name),
            );
            if let Some(builds) = self.failed_builds.lock().expect("not poisoned").get(&name) {
                for version in builds.not_built.iter().filter(|v| range.contains(v)) {
                    unusable
                        .entry(version.clone())
                        .or_insert_with(|| vec![Unusable::NotBuilt(builds.failed.len())]);
                }
            }
            unusable.retain(|v, _| range.contains(v));
            let pinned = ranges::pinned(&range);
            for (version, file) in usable {
                if file.yanked && range.contains(&version) && pinned.is_none() {
                    unusable.insert(version, vec![Unusable::Yanked]);
                }
            }
            if !unusable.is_empty() {
                out.push(Unavailable {
                    name,
                    versions: unusable.into_iter().collect(),
                    skipped: Vec::new(),
                    empty_page: None,
                });
            }
        }
        let packages = tree.packages();
        for (name, requirement) in &self.skipped {
            if !packages.contains(&Pkg::Name(name.clone())) {
                continue;
            }
            match out.iter_mut().find(|u| &u.name == name) {
                Some(u) => u.skipped.push(requirement.clone()),
                None => out.push(Unavailable {
                    name: name.clone(),
                    versions: Vec::new(),
                    skipped: vec![requirement.clone()],
                    empty_page: None,
                }),
            }
        }
        out
    }

    fn requirement_deps(
        &self,
        requirements: impl Iterator<Item = Requirement>,
        deps: &mut Vec<(Pkg, Ranges<Version>)>,
    ) -> Result<(), ProviderError> {
        for r in requirements {
            if let Some(VersionOrUrl::Url(url)) = &r.version_or_url
                && !self.direct.contains_key(&r.name)
            {
                return Err(ProviderError::msg(format!(
                    "`{}` depends on a direct URL ({}), which envlock cannot lock yet",
                    r.name,
                    crate::util::redact::url_text(url.to_string().as_str())
                )));
            }
            let mut range = ranges::of(&r);
            if let Some(c) = self.constraints.get(&r.name) {
                range = range.intersection(c);
            }
            self.prefetch(&r.name);
            for extra in &r.extras {
                deps.push((Pkg::Extra(r.name.clone(), extra.clone()), range.clone()));
            }
            deps.push((Pkg::Name(r.name.clone()), range));
        }
        Ok(())
    }
}

fn failure(error: ProviderError, platform: rattler_conda_types::Subdir) -> anyhow::Error {
    let mut failure = Failure::new(format!(
        "resolving the pip requirements for {platform}: {}",
        error.message
    ));
    failure.hint = error.hint;
    failure.into()
}

/// The packages pubgrub found no version of, in the ranges it asked for (united).
fn no_versions(
    tree: &pubgrub::DerivationTree<Pkg, Ranges<Version>, Unusable>,
    out: &mut BTreeMap<PackageName, Ranges<Version>>,
) {
    match tree {
        pubgrub::DerivationTree::External(pubgrub::External::NoVersions(
            Pkg::Name(name) | Pkg::Extra(name, _),
            range,
        )) => {
            let entry = out.entry(name.clone()).or_insert_with(Ranges::empty);
            *entry = entry.union(range);
        }
        pubgrub::DerivationTree::External(_) => {}
        pubgrub::DerivationTree::Derived(derived) => {
            no_versions(&derived.cause1, out);
            no_versions(&derived.cause2, out);
        }
    }
}

/// Joins two constraint strings as "both must hold".
fn merge_constraint(existing: &mut String, add: &str) {
    if add.is_empty() || existing.split(',').any(|c| c == add) {
        return;
    }
    if !existing.is_empty() {
        existing.push(',');
    }
    existing.push_str(add);
}

/// Requirements on the same package are merged into one range (all must hold).
/// The number of `package` in the order packages were first seen, numbering it now if it is
/// new. pubgrub asks often: a package already seen is looked up, not cloned.
fn discovery_order(seen: &mut HashMap<Pkg, u32>, package: &Pkg) -> u32 {
    if let Some(&order) = seen.get(package) {
        return order;
    }
    let next = u32::try_from(seen.len()).unwrap_or(u32::MAX);
    seen.insert(package.clone(), next);
    next
}

fn into_map(deps: Vec<(Pkg, Ranges<Version>)>) -> pubgrub::Map<Pkg, Ranges<Version>> {
    let mut map: pubgrub::Map<Pkg, Ranges<Version>> = pubgrub::Map::default();
    for (pkg, range) in deps {
        match map.get_mut(&pkg) {
            Some(existing) => *existing = existing.intersection(&range),
            None => {
                map.insert(pkg, range);
            }
        }
    }
    map
}

impl Provider {
    /// `deps` as pubgrub takes them, each package not seen before numbered in the order it is
    /// listed (a requirements file's order, a METADATA's `Requires-Dist` order), for
    /// [`DependencyProvider::prioritize`]. pubgrub keeps dependencies in a hash map, so its own
    /// order says nothing.
    fn available(
        &self,
        deps: Vec<(Pkg, Ranges<Version>)>,
    ) -> Dependencies<Pkg, Ranges<Version>, Unusable> {
        let mut seen = self.seen.lock().expect("not poisoned");
        for (pkg, _) in &deps {
            discovery_order(&mut seen, pkg);
        }
        drop(seen);
        Dependencies::Available(into_map(deps).into_iter().collect())
    }
}

impl DependencyProvider for Provider {
    type P = Pkg;
    type V = Version;
    type VS = Ranges<Version>;
    type M = Unusable;
    type Err = ProviderError;
    type Priority = (u32, u32, Reverse<u32>);

    fn prioritize(
        &self,
        package: &Pkg,
        range: &Ranges<Version>,
        stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        // Decide fixed things first (root, conda, pins), then packages that conflict often, then
        // the package seen first ([`Provider::available`]): requirements in the order they are
        // written, each before what it brings in, as uv does. Without that order ties went by
        // pubgrub's hash order, and a package decided early could hold a requirement written
        // before it back to an old version (`setuptools` 82 before `torch`, which then locked
        // 2.10 where uv locks 2.12, whose `setuptools<82` had to wait).
        let fixed = match package {
            Pkg::Root | Pkg::Conda => 5,
            Pkg::Name(n) if self.conda.contains_key(n) => 4,
            _ if ranges::pinned(range).is_some() => 3,
            _ => match self.conflicts.lock().expect("not poisoned").moved(package) {
                Moved::Early => 2,
                Moved::No => 1,
                Moved::Late => 0,
            },
        };
        let order = discovery_order(&mut self.seen.lock().expect("not poisoned"), package);
        (fixed, stats.conflict_count(), Reverse(order))
    }

    fn choose_version(
        &self,
        package: &Pkg,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, ProviderError> {
        let name = match package {
            Pkg::Root | Pkg::Conda => return Ok(Some(Version::new([0]))),
            Pkg::Name(n) | Pkg::Extra(n, _) => n,
        };
        if let Some(v) = self.conda.get(name) {
            return Ok(range.contains(v).then(|| v.clone()));
        }
        let candidates = self.candidates(name)?;
        let mut range = range.clone();
        let (version, file, metadata_file) = loop {
            let pick = candidates.pick(
                &range,
                self.options.preferred.get(name),
                &self.target,
                &self.options,
            );
            let Some((version, file)) = pick else {
                return Ok(None);
            };
            let metadata_file = candidates.metadata_file(&version, &file, &self.options);
            // A pinned version is always built: that is the way to ask for it.
            if matches!(metadata_file.kind, DistKind::Sdist(_)) && ranges::pinned(&range).is_none()
            {
                let mut failed = self.failed_builds.lock().expect("not poisoned");
                if let Some(builds) = failed.get_mut(name)
                    && builds.failed.len() >= MAX_FAILED_BUILDS
                    && !builds.failed.contains(&version)
                {
                    builds.not_built.insert(version.clone());
                    range = range.intersection(&Ranges::singleton(version).complement());
                    continue;
                }
            }
            break (version, file, metadata_file);
        };
        self.conflicts
            .lock()
            .expect("not poisoned")
            .chose(package, &version);
        self.chosen.lock().expect("not poisoned").insert(
            (name.clone(), version.clone()),
            (file, metadata_file.clone()),
        );
        self.client.prefetch_metadata(metadata_file);
        Ok(Some(version))
    }

    fn get_dependencies(
        &self,
        package: &Pkg,
        version: &Version,
    ) -> Result<Dependencies<Pkg, Ranges<Version>, Unusable>, ProviderError> {
        let mut deps = Vec::new();
        match package {
            Pkg::Root => {
                deps.push((Pkg::Conda, Ranges::singleton(Version::new([0]))));
                self.requirement_deps(self.root.iter().cloned(), &mut deps)?;
            }
            Pkg::Conda => {
                for (name, v) in &self.conda {
                    deps.push((Pkg::Name(name.clone()), Ranges::singleton(v.clone())));
                }
            }
            Pkg::Name(name) | Pkg::Extra(name, _) => {
                if self.conda.contains_key(name) {
                    if let Pkg::Extra(_, extra) = package {
                        return Err(ProviderError {
                            message: format!(
                                "`{name}[{extra}]`: {name} comes from conda, and envlock does not add the dependencies of extras to conda packages"
                            ),
                            hint: Some(format!(
                                "list what the extra `{extra}` needs as pip requirements of their own"
                            )),
                        });
                    }
                    // conda installs it, with conda's own dependencies.
                    return Ok(self.available(deps));
                }
                let (_, file) = self
                    .chosen
                    .lock()
                    .expect("not poisoned")
                    .get(&(name.clone(), version.clone()))
                    .cloned()
                    .ok_or_else(|| {
                        ProviderError::msg(format!("internal error: no file for {name} {version}"))
                    })?;
                let metadata = match self.handle.block_on(self.client.metadata(&file)) {
                    Ok(m) => m,
                    Err(e) => match e.downcast::<BuildFailed>() {
                        Ok(build) => {
                            self.failed_builds
                                .lock()
                                .expect("not poisoned")
                                .entry(name.clone())
                                .or_default()
                                .failed
                                .insert(version.clone());
                            let mut failures = self.build_failures.lock().expect("not poisoned");
                            if !failures.iter().any(|f| f.message == build.message) {
                                failures.push(build);
                            }
                            drop(failures);
                            return Ok(Dependencies::Unavailable(Unusable::BuildFailed));
                        }
                        Err(e) => match e.downcast::<InvalidMetadata>() {
                            Ok(invalid) => {
                                let mut failures =
                                    self.build_failures.lock().expect("not poisoned");
                                if !failures.iter().any(|f| f.message == invalid.message) {
                                    failures.push(BuildFailed {
                                        message: invalid.message,
                                        hint: format!("require another version of {name}"),
                                    });
                                }
                                drop(failures);
                                return Ok(Dependencies::Unavailable(Unusable::InvalidMetadata));
                            }
                            Err(e) => return Err(e.into()),
                        },
                    },
                };
                if let Some(rp) = &metadata.requires_python
                    && !rp.contains(self.target.python_version())
                {
                    let python = self.target.python_version();
                    let hint = super::report::python_hint(name, python);
                    let mut hints = self.hints.lock().expect("not poisoned");
                    if !hints.contains(&hint) {
                        hints.push(hint);
                    }
                    return Ok(Dependencies::Unavailable(Unusable::MetadataRequiresPython(
                        format!("{rp}, and {} has Python {python}", self.target.platform()),
                    )));
                }
                let extras: Vec<ExtraName> = match package {
                    Pkg::Extra(_, e) => {
                        deps.push((Pkg::Name(name.clone()), Ranges::singleton(version.clone())));
                        if !metadata.provides_extras.is_empty()
                            && !metadata.provides_extras.contains(e)
                        {
                            self.missing_extras.lock().expect("not poisoned").insert((
                                name.clone(),
                                version.clone(),
                                e.clone(),
                            ));
                            return Ok(self.available(deps));
                        }
                        vec![e.clone()]
                    }
                    _ => vec![],
                };
                let applicable = metadata
                    .requires_dist
                    .iter()
                    .filter(|r| r.marker.evaluate(&self.env, &extras))
                    .cloned();
                self.requirement_deps(applicable, &mut deps)?;
                let movable = |p: &Pkg| match p {
                    Pkg::Name(n) | Pkg::Extra(n, _) => !self.conda.contains_key(n),
                    Pkg::Root | Pkg::Conda => false,
                };
                let mut conflicts = self.conflicts.lock().expect("not poisoned");
                if conflicts.dependencies(package, &deps, movable) {
                    return Err(ProviderError::msg(
                        "internal: the solve starts again in a new order".to_string(),
                    ));
                }
            }
        }
        Ok(self.available(deps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_merge_without_repeats() {
        let mut s = String::new();
        merge_constraint(&mut s, ">=1");
        merge_constraint(&mut s, "<2");
        merge_constraint(&mut s, ">=1");
        merge_constraint(&mut s, "");
        assert_eq!(s, ">=1,<2");
    }

    #[test]
    fn duplicate_dependencies_intersect() {
        let a = Ranges::from(pep440_rs::VersionSpecifiers::from_str(">=1").unwrap());
        let b = Ranges::from(pep440_rs::VersionSpecifiers::from_str("<2").unwrap());
        let name = Pkg::Name(PackageName::from_str("x").unwrap());
        let map = into_map(vec![(name.clone(), a), (name.clone(), b)]);
        let r = &map[&name];
        assert!(r.contains(&Version::from_str("1.5").unwrap()));
        assert!(!r.contains(&Version::from_str("2.0").unwrap()));
        assert!(!r.contains(&Version::from_str("0.5").unwrap()));
    }

    use std::str::FromStr;
}
