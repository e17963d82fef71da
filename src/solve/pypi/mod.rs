//! PyPI: the index client, wheel tags, and the resolver that runs after the conda solve.

pub mod build;
pub mod build_set;
pub mod candidates;
pub mod conflicts;
pub mod git;
pub mod graph;
pub mod index;
pub mod lenient;
pub mod local;
pub mod mapping;
pub mod metadata;
pub mod ranges;
pub mod report;
pub mod resolver;
pub mod tags;
pub mod wheel_install;

use std::{collections::HashMap, str::FromStr, sync::Arc};

use anyhow::{Context, Result};
use jiff::Timestamp;
use pep440_rs::Version;
use pep508_rs::PackageName;
use rattler_conda_types::Subdir;

use self::{index::IndexClient, mapping::Mapping, resolver::Pinned, tags::Target};
use super::conda::PlatformSolution;
use crate::inputs::PipInputs;

/// Resolves the pip requirements for every platform at once, each against the python and the
/// Python packages its conda solution installs.
///
/// `preferred` holds, per platform, the versions to keep when they still fit (an existing
/// lock's pins). What the user should know about the result is added to `warnings`.
pub async fn resolve_all(
    pip: &PipInputs,
    solutions: &[PlatformSolution],
    client: Arc<IndexClient>,
    mapping: &Mapping,
    exclude_newer: Option<Timestamp>,
    preferred: &HashMap<Subdir, HashMap<PackageName, Version>>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Vec<Pinned>>> {
    let options = resolver::Options {
        pip: pip.options.clone(),
        exclude_newer,
        preferred: HashMap::new(),
        warnings: Default::default(),
    };
    let pip = &named(pip, &client).await?;
    let mut tasks = Vec::new();
    for solution in solutions {
        let target = target_of(solution)?;
        let conda = mapping.provided(&solution.records);
        let mut options = options.clone();
        options.preferred = preferred
            .get(&solution.platform)
            .cloned()
            .unwrap_or_default();
        let (client, requirements, constraints) = (
            client.clone(),
            pip.requirements.clone(),
            pip.constraints.clone(),
        );
        tasks.push(tokio::spawn(async move {
            resolver::resolve(
                client,
                &requirements,
                &constraints,
                &target,
                &conda,
                &options,
            )
            .await
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.context("PyPI resolution task failed")??);
    }
    warnings.extend(std::mem::take(
        &mut *options.warnings.lock().expect("not poisoned"),
    ));
    Ok(out)
}

/// `pip` with the real names of the requirements written as bare URLs
/// ([`crate::inputs::PipRequirement::unnamed`]), from their files' metadata.
async fn named(pip: &PipInputs, client: &IndexClient) -> Result<PipInputs> {
    let mut pip = pip.clone();
    for r in pip.requirements.iter_mut().filter(|r| r.unnamed) {
        let Some(pep508_rs::VersionOrUrl::Url(url)) = &r.requirement.version_or_url else {
            continue;
        };
        // A wheel's file name says its project.
        if url.path().ends_with(".whl") {
            continue;
        }
        let file = client
            .direct_file(None, url)
            .await
            .map_err(|e| crate::util::error::Failure::new(format!("{}: {e:#}", r.location)))?;
        if let index::DistKind::Sdist(sdist) = &file.kind {
            r.requirement.name = sdist.name.clone();
        }
    }
    Ok(pip)
}

/// The wheel target of a platform's solution: its platform, python and virtual packages.
pub fn target_of(solution: &PlatformSolution) -> Result<Target> {
    let python = solution
        .records
        .iter()
        .find(|r| r.package_record.name.as_normalized() == "python")
        .with_context(|| format!("the conda solve for {} has no python", solution.platform))?;
    let version = Version::from_str(&python.package_record.version.to_string())
        .map_err(|e| anyhow::anyhow!("python {}: {e}", python.package_record.version))?;
    Target::new(solution.platform, &version, &solution.virtual_packages)
}
