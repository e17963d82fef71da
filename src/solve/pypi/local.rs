//! Local projects whose dependencies come from their build backend (dynamic `dependencies`, or
//! a setup.py / setup.cfg project): `envlock resolve` runs the PEP 517 metadata hook in the
//! project's directory, in the isolated build environment sdists get ([`super::build`]), and
//! locks the `Requires-Dist` it reports for the selected extras (their markers kept, so they are
//! evaluated per platform as any requirement's). The hook's answer is cached by the project's
//! build inputs ([`Builder::local_metadata`]). Its `Requires-Python` must hold for the python
//! each platform locks, as an index package's must; the conda solve has picked that python
//! already (the metadata is only known after it), so a project that excludes it is refused.

use std::str::FromStr;

use anyhow::Result;
use pep440_rs::Version;
use pep508_rs::{ExtraName, PackageName};

use super::{build::Builder, metadata::CoreMetadata};
use crate::{inputs::Inputs, util::error::Failure};

/// Reads the metadata of every [`crate::inputs::LocalProject::from_backend`] project of `spec`
/// through `builder` and adds the requirements it gives. `pythons` are the python each
/// platform locks (platform, version), which the project's `Requires-Python` must admit.
pub async fn read_backend_projects(
    spec: &mut Inputs,
    builder: &Builder,
    pythons: &[(String, Version)],
) -> Result<()> {
    for index in 0..spec.local_projects.len() {
        let project = &spec.local_projects[index];
        if !project.from_backend {
            continue;
        }
        let place = project.location.clone();
        let text = builder
            .local_metadata(&project.dir, &project.build_inputs)
            .await
            .map_err(|e| {
                Failure::new(format!("{place}: {}", e.message))
                    .hint(e.hint)
                    .at(&place.file, None, place.line, place.column)
            })?;
        let shown = project.dir.display().to_string();
        let metadata = CoreMetadata::parse(&text).map_err(|e| {
            Failure::new(format!(
                "{place}: the metadata the backend of the local project {shown} gave is \
                 invalid: {e:#}"
            ))
            .hint("fix the project's build configuration")
        })?;
        if !project.name.is_empty()
            && PackageName::from_str(&project.name).ok().as_ref() != Some(&metadata.name)
        {
            return Err(Failure::new(format!(
                "{place}: the backend of the local project {shown} names it `{}`, and its \
                 pyproject.toml `{}`",
                metadata.name, project.name
            ))
            .hint("make the build backend's name agree with `[project] name`")
            .into());
        }
        if let Some(requires_python) = &metadata.requires_python
            && let Some((platform, python)) = pythons
                .iter()
                .find(|(_, python)| !requires_python.contains(python))
        {
            return Err(Failure::new(format!(
                "{place}: the local project `{}` requires Python {requires_python} (the \
                 Requires-Python of the metadata its backend gave), and {platform} locks \
                 Python {python}",
                metadata.name
            ))
            .hint(
                "lock with a Python the project supports (`--python X.Y`, or `python` in an \
                 environment.yml), or widen its Requires-Python (`python_requires` in setup.py \
                 or setup.cfg, `requires-python` in pyproject.toml)",
            )
            .at(&place.file, None, place.line, place.column)
            .into());
        }
        let (extras, requires) = selected(
            &metadata,
            &project.extras,
            project.all_extras,
            &place.to_string(),
        )?;
        let version = metadata.version.to_string();
        spec.complete_local_project(
            index,
            metadata.name.as_ref(),
            Some(&version),
            project.all_extras.then_some(extras),
            requires,
        )?;
    }
    Ok(())
}

/// The requirements `metadata` gives with the `extras` (normalized; every extra with
/// `all_extras`) selected, and the extras (normalized, sorted): a `Requires-Dist` counts when its
/// marker can hold with those extras, and keeps its marker without the `extra == …` parts that
/// hold; `name[x]` naming the project itself selects `x` too. `place` is where the project is
/// named, for an unknown extra.
pub fn selected(
    metadata: &CoreMetadata,
    extras: &[String],
    all_extras: bool,
    place: &str,
) -> Result<(Vec<String>, Vec<String>)> {
    let mut active: Vec<ExtraName> = Vec::new();
    if all_extras {
        active.extend(metadata.provides_extras.iter().cloned());
    }
    for extra in extras {
        let name = ExtraName::from_str(extra)
            .map_err(|e| Failure::new(format!("{place}: `{extra}` is not an extra name: {e}")))?;
        if !metadata.provides_extras.contains(&name) {
            let known: Vec<String> = metadata
                .provides_extras
                .iter()
                .map(|e| format!("`{e}`"))
                .collect();
            return Err(Failure::new(format!(
                "{place}: the local project `{}` has no extra `{extra}`; its backend reports {}",
                metadata.name,
                if known.is_empty() {
                    "no extras".to_string()
                } else {
                    known.join(", ")
                }
            ))
            .hint("name one of the project's extras")
            .into());
        }
        active.push(name);
    }
    // Self-references select more extras, until nothing changes.
    loop {
        let mut more = Vec::new();
        for r in &metadata.requires_dist {
            if r.name == metadata.name && r.marker.evaluate_extras(&active) {
                more.extend(r.extras.iter().filter(|e| !active.contains(e)).cloned());
            }
        }
        if more.is_empty() {
            break;
        }
        active.extend(more);
    }
    let mut requires = Vec::new();
    for r in &metadata.requires_dist {
        if r.name == metadata.name || !r.marker.evaluate_extras(&active) {
            continue;
        }
        let mut r = r.clone();
        r.marker = r.marker.simplify_extras(&active);
        let text = r.to_string();
        if !requires.contains(&text) {
            requires.push(text);
        }
    }
    let mut names: Vec<String> = active.iter().map(ToString::to_string).collect();
    names.sort();
    names.dedup();
    Ok((names, requires))
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\
        Requires-Dist: a>=1\n\
        Requires-Dist: b; sys_platform == \"linux\"\n\
        Provides-Extra: fast\n\
        Requires-Dist: c; extra == \"fast\"\n\
        Provides-Extra: all\n\
        Requires-Dist: demo[fast]; extra == \"all\"\n\
        Provides-Extra: docs\n\
        Requires-Dist: d; python_version < \"3.12\" and extra == \"docs\"\n";

    #[test]
    fn extras_select_their_requirements_and_markers_stay() {
        let m = CoreMetadata::parse(METADATA).unwrap();
        let (extras, requires) = selected(&m, &[], false, "x").unwrap();
        assert!(extras.is_empty());
        assert_eq!(requires, ["a>=1", "b ; sys_platform == 'linux'"]);
        let (extras, requires) = selected(&m, &["ALL".to_string()], false, "x").unwrap();
        assert_eq!(extras, ["all", "fast"]);
        assert_eq!(requires, ["a>=1", "b ; sys_platform == 'linux'", "c"]);
        let (extras, requires) = selected(&m, &[], true, "x").unwrap();
        assert_eq!(extras, ["all", "docs", "fast"]);
        assert_eq!(requires[3], "d ; python_full_version < '3.12'");
        let e = selected(&m, &["nope".to_string()], false, "r.txt:1:1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.txt:1:1: the local project `demo` has no extra `nope`; its backend reports \
             `fast`, `all`, `docs`"
        );
    }
}
