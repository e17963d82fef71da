//! `pyproject.toml`: a local project's static `[project]` metadata (PEP 621) and its PEP 735
//! `[dependency-groups]`.
//!
//! A local project is never resolved from an index: it is the build context of the image. What
//! is locked are its declared dependencies: `[project] dependencies`, the requested
//! `optional-dependencies` (extras; `name[other]` naming the project itself selects those extras
//! too) and, for a pyproject.toml given as an input, the requested dependency groups
//! (`{include-group = "…"}` followed, cycles refused). Each becomes a pip requirement whose
//! location is the string in pyproject.toml (`pyproject.toml:line:column`).
//!
//! Dependencies computed by the build backend (`dependencies` listed in `project.dynamic`, or
//! `optional-dependencies` when an extra is selected), and projects with a `setup.py` or
//! `setup.cfg` and no `[project]` table, are read through the PEP 517 metadata hook when
//! `envlock resolve` runs ([`crate::solve::pypi::build`]); here such a project is marked
//! [`LocalProject::from_backend`] and its [`LocalProject::build_inputs`] are hashed, so that
//! `envlock check`, which runs no backend, can tell when they change, and `envlock resolve` runs
//! the hook again only then (its answer is cached by them).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    str::FromStr,
};

use anyhow::Result;
use pep508_rs::{ExtraName, PackageName};
use serde::Deserialize;
use toml::Spanned;

use super::Location;
use crate::util::error::Failure;

/// The extras and dependency groups asked for on the command line (`--extra`, `--all-extras`,
/// `--group`), for a pyproject.toml input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `--extra` names, as given.
    pub extras: Vec<String>,
    /// `--all-extras`.
    pub all_extras: bool,
    /// `--group` names, as given.
    pub groups: Vec<String>,
}

impl Selection {
    /// Whether nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.extras.is_empty() && !self.all_extras && self.groups.is_empty()
    }
}

/// A local project: a directory with a pyproject.toml (or a setup.py / setup.cfg), installed
/// from its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalProject {
    /// `[project] name`, as written; for a project without a `[project]` table, the `Name` its
    /// backend reports, empty until it is read.
    pub name: String,
    /// `[project] version`, when static.
    pub version: Option<String>,
    /// The project's directory, as reached from the working directory.
    pub dir: PathBuf,
    /// Its pyproject.toml.
    pub pyproject: PathBuf,
    /// The extras installed (normalized, sorted).
    pub extras: Vec<String>,
    /// `--all-extras` selected them.
    pub all_extras: bool,
    /// The dependency groups locked with it (normalized, sorted; pyproject.toml inputs only).
    pub groups: Vec<String>,
    /// Named with `-e`.
    pub editable: bool,
    /// The requirements it brings, in declaration order, each with its place in pyproject.toml.
    pub requirements: Vec<(String, Location)>,
    /// `[build-system] requires`; `None` when the table is missing.
    pub build_requires: Option<Vec<String>>,
    /// `requires-python`, with its place.
    pub requires_python: Option<(String, Location)>,
    /// Where the project was named (the requirement line, or the pyproject.toml itself).
    pub location: Location,
    /// Its dependencies come from the build backend's metadata hook (they are dynamic, or it
    /// has no `[project]` table).
    pub from_backend: bool,
    /// For a [`LocalProject::from_backend`] project, the files its metadata is computed from
    /// ([`build_inputs`]): path relative to the project's directory → sha256.
    pub build_inputs: BTreeMap<String, String>,
    /// For a [`LocalProject::from_backend`] project, the requirements its backend's metadata
    /// gives for the selected extras, once read (by `resolve` from the hook, by `check` from
    /// the lock); they come before [`LocalProject::requirements`].
    pub backend_requires: Vec<String>,
}

impl LocalProject {
    /// The sha256 of [`LocalProject::build_system_requires`], in order: `check` compares it
    /// with the lock's record, since the build set pins those requirements.
    pub fn build_sha256(&self) -> String {
        let text: String = self
            .build_system_requires()
            .iter()
            .map(|r| format!("build-requires {r}\n"))
            .collect();
        crate::util::sha256_hex(text.as_bytes())
    }

    /// What building the project needs: `[build-system] requires`, or setuptools' legacy
    /// default (as pip uses it) when it names no build system.
    pub fn build_system_requires(&self) -> Vec<String> {
        self.build_requires
            .clone()
            .unwrap_or_else(|| vec!["setuptools>=40.8.0".to_string(), "wheel".to_string()])
    }

    /// The sha256 of what the project declares for this lock: its selected extras and groups and
    /// the requirements they bring, in order. `check` compares it with the lock's record.
    /// For a [`LocalProject::from_backend`] project, the requirements its backend gave come
    /// first.
    pub fn dependencies_sha256(&self) -> String {
        let mut text = String::new();
        for extra in &self.extras {
            text.push_str(&format!("extra {extra}\n"));
        }
        for group in &self.groups {
            text.push_str(&format!("group {group}\n"));
        }
        let requirements = self
            .backend_requires
            .iter()
            .chain(self.requirements.iter().map(|(r, _)| r));
        for requirement in requirements {
            text.push_str(&format!("requires {requirement}\n"));
        }
        crate::util::sha256_hex(text.as_bytes())
    }

    /// The file that describes the project, for findings: its pyproject.toml, else (a setup.py
    /// / setup.cfg project without one) its setup.py, else its setup.cfg.
    pub fn described_by(&self) -> PathBuf {
        if self.pyproject.is_file() || !self.from_backend {
            return self.pyproject.clone();
        }
        let setup = self.dir.join("setup.py");
        if setup.is_file() {
            setup
        } else {
            self.dir.join("setup.cfg")
        }
    }

    /// The project as messages name it: `name`, or its directory while the name is unknown.
    pub fn shown(&self) -> String {
        if self.name.is_empty() {
            self.dir.display().to_string()
        } else {
            self.name.clone()
        }
    }

    /// A project with no pyproject.toml but a setup.py or setup.cfg in `dir`: everything comes
    /// from setuptools' legacy backend, as pip builds it.
    pub fn legacy(
        dir: &Path,
        extras: &[String],
        editable: bool,
        location: Location,
    ) -> Result<LocalProject> {
        let extras = normalized_extras(extras, &location)?;
        Ok(LocalProject {
            name: String::new(),
            version: None,
            dir: dir.to_path_buf(),
            pyproject: dir.join("pyproject.toml"),
            extras,
            all_extras: false,
            groups: Vec::new(),
            editable,
            requirements: Vec::new(),
            build_requires: None,
            requires_python: None,
            build_inputs: build_inputs(dir, None)?,
            location,
            from_backend: true,
            backend_requires: Vec::new(),
        })
    }
}

/// Extra names normalized, sorted and deduplicated; an invalid one is an error at `location`.
fn normalized_extras(extras: &[String], location: &Location) -> Result<Vec<String>> {
    let mut out = BTreeSet::new();
    for extra in extras {
        let name = ExtraName::from_str(extra).map_err(|e| {
            Failure::new(format!(
                "{location}: `{extra}` is not a valid extra name: {e}"
            ))
            .hint("use a PEP 685 name such as `dev`")
        })?;
        out.insert(name.to_string());
    }
    Ok(out.into_iter().collect())
}

/// The most files [`build_inputs`] reads, and the most bytes of each.
const MAX_BUILD_INPUTS: usize = 64;
const MAX_BUILD_INPUT_BYTES: u64 = 4 << 20;

/// The files a build backend commonly computes a project's metadata from, found in `dir`
/// (whose pyproject.toml holds `pyproject`), each with its sha256, by `/`-separated path
/// relative to `dir`. The rule, kept simple and deterministic:
///
/// - the regular files at the top of `dir` named `pyproject.toml`, `setup.py`, `setup.cfg`,
///   or `requirements*.txt` / `requirements*.in`;
/// - the files pyproject.toml names as dynamic metadata sources: setuptools'
///   `[tool.setuptools.dynamic] dependencies` and `optional-dependencies.*` `file = […]`, and
///   hatch-requirements-txt's `[tool.hatch.metadata.hooks.requirements_txt] files` and
///   `optional-dependencies.*` lists; each a relative path inside `dir` (others are passed
///   over), missing ones left out.
///
/// What a `setup.py` reads from elsewhere (another file, the environment) is not seen.
pub fn build_inputs(dir: &Path, pyproject: Option<&str>) -> Result<BTreeMap<String, String>> {
    let mut names: BTreeSet<String> = BTreeSet::new();
    let listing = std::fs::read_dir(dir).map_err(|e| {
        Failure::new(format!(
            "cannot list the local project's directory {}: {e}",
            dir.display()
        ))
    })?;
    for entry in listing.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let wanted = matches!(name.as_str(), "pyproject.toml" | "setup.py" | "setup.cfg")
            || (name.starts_with("requirements")
                && (name.ends_with(".txt") || name.ends_with(".in")));
        if wanted {
            names.insert(name);
        }
    }
    if let Some(text) = pyproject {
        names.extend(dynamic_files(text));
    }
    let mut inputs = BTreeMap::new();
    for name in names {
        let path = dir.join(&name);
        // Only regular files (a FIFO would block, a directory is not an input).
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        if inputs.len() == MAX_BUILD_INPUTS {
            return Err(Failure::new(format!(
                "the local project {} names more than {MAX_BUILD_INPUTS} files its metadata                  comes from",
                dir.display()
            ))
            .into());
        }
        if meta.len() > MAX_BUILD_INPUT_BYTES {
            return Err(Failure::new(format!(
                "{}: is larger than {} MiB, too large for a file the project's metadata comes                  from",
                path.display(),
                MAX_BUILD_INPUT_BYTES >> 20
            ))
            .into());
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| Failure::new(format!("could not read {}: {e}", path.display())))?;
        inputs.insert(name, crate::util::sha256_hex(&bytes));
    }
    Ok(inputs)
}

/// The files pyproject.toml names as sources of dynamic dependencies (see [`build_inputs`]),
/// normalized; those that are not relative paths inside the project are left out.
fn dynamic_files(text: &str) -> Vec<String> {
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return Vec::new();
    };
    let get = |value: &toml::Value, path: &[&str]| -> Option<toml::Value> {
        let mut at = value;
        for key in path {
            at = at.get(key)?;
        }
        Some(at.clone())
    };
    let root = toml::Value::Table(table);
    let strings = |value: Option<toml::Value>| -> Vec<String> {
        match value {
            Some(toml::Value::String(s)) => vec![s],
            Some(toml::Value::Array(a)) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut files = Vec::new();
    let setuptools = get(&root, &["tool", "setuptools", "dynamic"]);
    if let Some(dynamic) = &setuptools {
        files.extend(strings(get(dynamic, &["dependencies", "file"])));
        if let Some(toml::Value::Table(extras)) = get(dynamic, &["optional-dependencies"]) {
            for value in extras.values() {
                files.extend(strings(get(value, &["file"])));
            }
        }
    }
    if let Some(hatch) = get(
        &root,
        &["tool", "hatch", "metadata", "hooks", "requirements_txt"],
    ) {
        files.extend(strings(get(&hatch, &["files"])));
        if let Some(toml::Value::Table(extras)) = get(&hatch, &["optional-dependencies"]) {
            for value in extras.values() {
                files.extend(strings(Some(value.clone())));
            }
        }
    }
    files
        .into_iter()
        .filter_map(|f| {
            let parts: Vec<&str> = f
                .trim()
                .trim_start_matches("./")
                .split(['/', '\\'])
                .filter(|p| !p.is_empty() && *p != ".")
                .collect();
            let inside = !f.starts_with('/')
                && !parts.is_empty()
                && parts
                    .iter()
                    .all(|p| *p != ".." && !p.contains(':') && !p.chars().any(char::is_control));
            inside.then(|| parts.join("/"))
        })
        .collect()
}

/// One `[dependency-groups]` list, as declared.
type GroupList = Spanned<Vec<Spanned<toml::Value>>>;
/// The groups by normalized name: the name as written and the list.
type Groups<'a> = BTreeMap<String, (&'a str, &'a GroupList)>;

#[derive(Deserialize)]
struct Document {
    project: Option<Spanned<Project>>,
    #[serde(rename = "dependency-groups")]
    dependency_groups: Option<BTreeMap<String, GroupList>>,
    #[serde(rename = "build-system")]
    build_system: Option<BuildSystem>,
}

#[derive(Deserialize)]
struct Project {
    name: Option<Spanned<String>>,
    version: Option<String>,
    dependencies: Option<Vec<Spanned<String>>>,
    #[serde(rename = "optional-dependencies", default)]
    optional_dependencies: BTreeMap<String, Vec<Spanned<String>>>,
    #[serde(rename = "requires-python")]
    requires_python: Option<Spanned<String>>,
    #[serde(default)]
    dynamic: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
struct BuildSystem {
    #[serde(default)]
    requires: Vec<String>,
}

/// Whether `text` is TOML with a `[project]` table.
pub fn has_project_table(text: &str) -> bool {
    toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("project"))
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// Reads a project from its pyproject.toml (`path`, holding `text`).
pub struct Reader<'a> {
    path: &'a Path,
    text: &'a str,
}

impl<'a> Reader<'a> {
    /// A reader of `text`, read from `path`.
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        Reader { path, text }
    }

    fn at(&self, offset: usize) -> Location {
        let (line, column) = position(self.text, offset);
        Location {
            file: self.path.to_path_buf(),
            line,
            column,
        }
    }

    fn error(&self, offset: usize, message: impl std::fmt::Display, hint: &str) -> anyhow::Error {
        let at = self.at(offset);
        Failure::new(format!("{at}: {message}"))
            .hint(hint)
            .at(self.path, Some(self.text), at.line, at.column)
            .into()
    }

    /// The project, with the `extras` and `groups` selected (`all_extras`: every extra).
    /// `location` is where it was named; `editable` whether with `-e`.
    pub fn read(
        &self,
        selection: &Selection,
        editable: bool,
        location: Location,
    ) -> Result<LocalProject> {
        let document: Document = toml::from_str(self.text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            self.error(
                offset,
                e.message().trim(),
                "fix the TOML syntax of the file",
            )
        })?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let Some(project) = document.project else {
            // A setuptools project that has a pyproject.toml only for `[build-system]`.
            if dir.join("setup.py").is_file() || dir.join("setup.cfg").is_file() {
                let mut project =
                    LocalProject::legacy(&dir, &selection.extras, editable, location)?;
                project.pyproject = self.path.to_path_buf();
                project.all_extras = selection.all_extras;
                project.groups = self.groups(
                    document.dependency_groups.as_ref(),
                    &selection.groups,
                    &mut project.requirements,
                )?;
                project.build_requires = document.build_system.map(|b| b.requires);
                project.build_inputs = build_inputs(&dir, Some(self.text))?;
                return Ok(project);
            }
            return Err(Failure::new(format!(
                "{}: has no `[project]` table, so envlock cannot read the project's name and \
                 dependencies",
                // Something missing is placed at the file's start.
                self.at(0)
            ))
            .hint(
                "declare the project's metadata in `[project]` (PEP 621), or list the \
                 requirements in a requirements.txt",
            )
            .into());
        };
        let project_start = project.span().start;
        let project = project.into_inner();
        let name = project.name.ok_or_else(|| {
            self.error(
                project_start,
                "`[project]` has no `name`",
                "add `name = \"…\"` to `[project]`",
            )
        })?;
        let own_name = PackageName::from_str(name.get_ref()).map_err(|e| {
            self.error(
                name.span().start,
                format!("`{}` is not a valid project name: {e}", name.get_ref()),
                "use a PEP 508 name such as `my-project`",
            )
        })?;
        let is_dynamic = |field: &str| project.dynamic.iter().any(|d| d.get_ref() == field);
        let selects_extras = selection.all_extras || !selection.extras.is_empty();
        // Dependencies the backend computes: its metadata hook gives them all (the static
        // optional-dependencies too), when `resolve` runs.
        if is_dynamic("dependencies") || (is_dynamic("optional-dependencies") && selects_extras) {
            let mut requirements = Vec::new();
            let groups = self.groups(
                document.dependency_groups.as_ref(),
                &selection.groups,
                &mut requirements,
            )?;
            return Ok(LocalProject {
                name: name.get_ref().clone(),
                version: project.version,
                build_inputs: build_inputs(&dir, Some(self.text))?,
                dir,
                pyproject: self.path.to_path_buf(),
                extras: normalized_extras(&selection.extras, &self.at(name.span().start))?,
                all_extras: selection.all_extras,
                groups,
                editable,
                requirements,
                build_requires: document.build_system.map(|b| b.requires),
                requires_python: project
                    .requires_python
                    .map(|r| (r.get_ref().clone(), self.at(r.span().start))),
                location,
                from_backend: true,
                backend_requires: Vec::new(),
            });
        }
        let dynamic_extras = project
            .dynamic
            .iter()
            .find(|d| d.get_ref() == "optional-dependencies");

        // Extras by normalized name.
        let mut extras_declared: BTreeMap<ExtraName, (&str, &Vec<Spanned<String>>)> =
            BTreeMap::new();
        for (extra, list) in &project.optional_dependencies {
            let normalized = ExtraName::from_str(extra).map_err(|e| {
                self.error(
                    project_start,
                    format!("`{extra}` is not a valid extra name: {e}"),
                    "use a PEP 685 name such as `dev`",
                )
            })?;
            extras_declared.insert(normalized, (extra.as_str(), list));
        }
        let mut wanted: Vec<ExtraName> = Vec::new();
        if selection.all_extras {
            wanted.extend(extras_declared.keys().cloned());
        }
        for extra in &selection.extras {
            let normalized = ExtraName::from_str(extra).ok();
            match normalized.filter(|n| extras_declared.contains_key(n)) {
                Some(n) => wanted.push(n),
                None => {
                    let known: Vec<&str> = extras_declared.values().map(|(n, _)| *n).collect();
                    // Located at the project's name: the file is the one this is about.
                    let mut failure = Failure::new(format!(
                        "{}: `{}` has no extra `{extra}`; it declares {}",
                        self.at(name.span().start),
                        name.get_ref(),
                        names(&known, "no extras")
                    ));
                    if let Some(d) = dynamic_extras {
                        let at = self.at(d.span().start);
                        failure = failure.hint(format!(
                            "its optional-dependencies are dynamic ({at}); list them statically"
                        ));
                    } else {
                        failure = failure.hint("pass one of the declared extras to --extra");
                    }
                    return Err(failure.into());
                }
            }
        }

        let mut requirements = Vec::new();
        let mut push = |text: &Spanned<String>, extras: &mut Vec<ExtraName>| -> Result<()> {
            // `name[a,b]` naming the project itself selects its extras `a` and `b`.
            if let Ok(parsed) = crate::util::pep508::parse::<url::Url>(text.get_ref())
                && parsed.name == own_name
            {
                for extra in parsed.extras {
                    if !extras_declared.contains_key(&extra) {
                        return Err(self.error(
                            text.span().start,
                            format!(
                                "`{}` names an extra `{extra}` the project does not declare",
                                text.get_ref()
                            ),
                            "declare the extra in `[project.optional-dependencies]`",
                        ));
                    }
                    extras.push(extra);
                }
                return Ok(());
            }
            requirements.push((text.get_ref().clone(), self.at(text.span().start)));
            Ok(())
        };
        let mut pending = wanted.clone();
        for dependency in project.dependencies.iter().flatten() {
            push(dependency, &mut pending)?;
        }
        let mut done: BTreeSet<ExtraName> = BTreeSet::new();
        while let Some(extra) = pending.pop() {
            if !done.insert(extra.clone()) {
                continue;
            }
            let (_, list) = extras_declared[&extra];
            for dependency in list {
                push(dependency, &mut pending)?;
            }
        }

        let groups = self.groups(
            document.dependency_groups.as_ref(),
            &selection.groups,
            &mut requirements,
        )?;

        Ok(LocalProject {
            name: name.get_ref().clone(),
            version: project.version,
            dir,
            pyproject: self.path.to_path_buf(),
            extras: done.iter().map(ToString::to_string).collect(),
            all_extras: selection.all_extras,
            groups,
            editable,
            requirements,
            build_requires: document.build_system.map(|b| b.requires),
            requires_python: project
                .requires_python
                .map(|r| (r.get_ref().clone(), self.at(r.span().start))),
            location,
            from_backend: false,
            build_inputs: BTreeMap::new(),
            backend_requires: Vec::new(),
        })
    }

    /// The requirements of the `wanted` dependency groups (PEP 735), appended to
    /// `requirements`; returns the groups' normalized names, sorted.
    fn groups(
        &self,
        declared: Option<&BTreeMap<String, GroupList>>,
        wanted: &[String],
        requirements: &mut Vec<(String, Location)>,
    ) -> Result<Vec<String>> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let empty = BTreeMap::new();
        let declared = declared.unwrap_or(&empty);
        let by_name: Groups<'_> = declared
            .iter()
            .map(|(name, list)| (normalize(name), (name.as_str(), list)))
            .collect();
        let mut selected = BTreeSet::new();
        for group in wanted {
            let key = normalize(group);
            if !by_name.contains_key(&key) {
                let known: Vec<&str> = by_name.values().map(|(n, _)| *n).collect();
                // Located at the table (the file's start when it has none).
                let table = self.text.find("[dependency-groups]").unwrap_or(0);
                return Err(Failure::new(format!(
                    "{}: there is no dependency group `{group}`; `[dependency-groups]` declares {}",
                    self.at(table),
                    names(&known, "none")
                ))
                .hint("pass one of the declared groups to --group")
                .into());
            }
            let mut stack = Vec::new();
            self.expand_group(&key, &by_name, &mut stack, requirements)?;
            selected.insert(key);
        }
        Ok(selected.into_iter().collect())
    }

    fn expand_group(
        &self,
        key: &str,
        by_name: &Groups<'_>,
        stack: &mut Vec<String>,
        requirements: &mut Vec<(String, Location)>,
    ) -> Result<()> {
        let (shown, list) = by_name[key];
        if stack.iter().any(|k| k == key) {
            let mut chain: Vec<&str> = stack.iter().map(|k| by_name[k.as_str()].0).collect();
            chain.push(shown);
            return Err(self.error(
                list.span().start,
                format!(
                    "the dependency group `{shown}` includes itself: {}",
                    chain.join(" → ")
                ),
                "remove one of the `include-group` entries",
            ));
        }
        stack.push(key.to_string());
        for item in list.get_ref() {
            match item.get_ref() {
                toml::Value::String(text) => {
                    requirements.push((text.clone(), self.at(item.span().start)));
                }
                toml::Value::Table(table)
                    if table.len() == 1
                        && let Some(toml::Value::String(included)) = table.get("include-group") =>
                {
                    let included_key = normalize(included);
                    if !by_name.contains_key(&included_key) {
                        return Err(self.error(
                            item.span().start,
                            format!(
                                "the dependency group `{shown}` includes `{included}`, which is \
                                 not declared"
                            ),
                            "declare the group in `[dependency-groups]`",
                        ));
                    }
                    self.expand_group(&included_key, by_name, stack, requirements)?;
                }
                _ => {
                    return Err(self.error(
                        item.span().start,
                        format!(
                            "an entry of the dependency group `{shown}` is neither a requirement \
                             string nor `{{include-group = \"…\"}}`"
                        ),
                        "write a PEP 508 string such as `pytest>=8`",
                    ));
                }
            }
        }
        stack.pop();
        Ok(())
    }
}

/// PEP 503/735 normalization: lowercase, runs of `-_.` become `-`.
fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// `a`, `b` and `c` as "`a`, `b`, `c`", or `none` when there are none.
fn names(list: &[&str], none: &str) -> String {
    if list.is_empty() {
        none.to_string()
    } else {
        list.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"[project]
name = "Demo_App"
version = "1.2"
requires-python = ">=3.10"
dependencies = [
  "requests>=2",
  "click",
]

[project.optional-dependencies]
fast = ["ujson"]
all = ["demo-app[fast,cli]"]
cli = ["rich"]

[dependency-groups]
test = ["pytest", {include-group = "lint"}]
lint = ["ruff"]
loop-a = [{include-group = "loop_b"}]
loop-b = [{include-group = "loop-a"}]

[build-system]
requires = ["hatchling"]
"#;

    fn read(selection: Selection) -> Result<LocalProject> {
        let path = Path::new("pyproject.toml");
        let at = Location {
            file: path.into(),
            line: 1,
            column: 1,
        };
        Reader::new(path, TEXT).read(&selection, false, at)
    }

    fn reqs(p: &LocalProject) -> Vec<String> {
        p.requirements.iter().map(|(r, _)| r.clone()).collect()
    }

    #[test]
    fn static_dependencies_with_their_places() {
        let p = read(Selection::default()).unwrap();
        assert_eq!(p.name, "Demo_App");
        assert_eq!(p.version.as_deref(), Some("1.2"));
        assert_eq!(reqs(&p), ["requests>=2", "click"]);
        assert_eq!(p.requirements[0].1.to_string(), "pyproject.toml:6:3");
        assert_eq!(p.build_requires, Some(vec!["hatchling".to_string()]));
        let (rp, at) = p.requires_python.clone().unwrap();
        assert_eq!((rp.as_str(), at.line), (">=3.10", 4));
        assert!(p.extras.is_empty() && p.groups.is_empty());
    }

    #[test]
    fn extras_follow_self_references_and_groups_their_includes() {
        let p = read(Selection {
            extras: vec!["ALL".into()],
            ..Selection::default()
        })
        .unwrap();
        assert_eq!(p.extras, ["all", "cli", "fast"]);
        let mut r = reqs(&p);
        r.sort();
        assert_eq!(r, ["click", "requests>=2", "rich", "ujson"]);
        let p = read(Selection {
            groups: vec!["test".into()],
            ..Selection::default()
        })
        .unwrap();
        assert_eq!(reqs(&p), ["requests>=2", "click", "pytest", "ruff"]);
        assert_eq!(p.groups, ["test"]);
        let all = read(Selection {
            all_extras: true,
            ..Selection::default()
        })
        .unwrap();
        assert_eq!(all.extras, ["all", "cli", "fast"]);
        assert_ne!(all.dependencies_sha256(), p.dependencies_sha256());
    }

    #[test]
    fn unknown_names_and_cycles_are_errors() {
        let e = read(Selection {
            extras: vec!["nope".into()],
            ..Selection::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "pyproject.toml:2:8: `Demo_App` has no extra `nope`; it declares `all`, `cli`, `fast`"
        );
        let e = read(Selection {
            groups: vec!["docs".into()],
            ..Selection::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("`test`, `lint`") || e.to_string().contains("`lint`"));
        let e = read(Selection {
            groups: vec!["loop-a".into()],
            ..Selection::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("includes itself"), "{e}");
    }

    #[test]
    fn dynamic_dependencies_come_from_the_backend_with_their_inputs_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[project]\nname = \"x\"\ndynamic = [\"version\", \"dependencies\"]\n\n\
                    [dependency-groups]\ntest = [\"pytest\"]\n\n\
                    [tool.setuptools.dynamic]\ndependencies = {file = [\"deps/base.txt\", \"../out.txt\"]}\n";
        let files = [
            ("pyproject.toml", text),
            ("requirements-dev.txt", "b\n"),
            ("deps/base.txt", "a>=1\n"),
            ("README.md", "not an input\n"),
            ("setup.py", "from setuptools import setup\nsetup()\n"),
        ];
        for (name, body) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        let path = dir.path().join("pyproject.toml");
        let at = Location {
            file: path.clone(),
            line: 1,
            column: 1,
        };
        let selection = Selection {
            extras: vec!["Fast".into()],
            groups: vec!["test".into()],
            ..Selection::default()
        };
        let p = Reader::new(&path, text).read(&selection, true, at).unwrap();
        assert!(p.from_backend);
        assert_eq!(p.name, "x");
        assert_eq!(p.extras, ["fast"]);
        // The groups stay static; the backend gives the rest when `resolve` runs it.
        assert_eq!(reqs(&p), ["pytest"]);
        assert!(p.backend_requires.is_empty());
        let names: Vec<&str> = p.build_inputs.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "deps/base.txt",
                "pyproject.toml",
                "requirements-dev.txt",
                "setup.py"
            ]
        );
        assert_eq!(
            p.build_inputs["setup.py"],
            crate::util::sha256_hex(b"from setuptools import setup\nsetup()\n")
        );
        // The backend's requirements count in the dependencies' sha256.
        let mut q = p.clone();
        q.backend_requires = vec!["a>=1".into()];
        assert_ne!(q.dependencies_sha256(), p.dependencies_sha256());
        // Dynamic optional-dependencies need the backend only when an extra is selected.
        let text = "[project]\nname = \"x\"\ndependencies = [\"a\"]\ndynamic = [\"optional-dependencies\"]\n";
        let at = Location {
            file: path.clone(),
            line: 1,
            column: 1,
        };
        let p = Reader::new(&path, text)
            .read(&Selection::default(), false, at.clone())
            .unwrap();
        assert!(!p.from_backend && p.build_inputs.is_empty());
        let p = Reader::new(&path, text)
            .read(
                &Selection {
                    all_extras: true,
                    ..Selection::default()
                },
                false,
                at,
            )
            .unwrap();
        assert!(p.from_backend && p.all_extras);
    }

    #[test]
    fn a_setup_py_project_reads_its_build_system_and_no_project_table_without_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyproject.toml");
        let text = "[build-system]\nrequires = [\"setuptools>=70\"]\n";
        std::fs::write(&path, text).unwrap();
        let at = Location {
            file: path.clone(),
            line: 1,
            column: 1,
        };
        let e = Reader::new(&path, text)
            .read(&Selection::default(), false, at.clone())
            .unwrap_err();
        assert!(e.to_string().contains("has no `[project]` table"), "{e}");
        std::fs::write(dir.path().join("setup.cfg"), "[metadata]\nname = y\n").unwrap();
        let p = Reader::new(&path, text)
            .read(&Selection::default(), false, at.clone())
            .unwrap();
        assert!(p.from_backend && p.name.is_empty());
        assert_eq!(p.shown(), dir.path().display().to_string());
        assert_eq!(p.build_system_requires(), ["setuptools>=70"]);
        assert_eq!(p.build_inputs.len(), 2);
        // Its dependency groups stay static.
        let text = "[build-system]\nrequires = []\n\n[dependency-groups]\ntest = [\"pytest\"]\n";
        let selection = Selection {
            groups: vec!["test".into()],
            ..Selection::default()
        };
        let p = Reader::new(&path, text)
            .read(&selection, false, at.clone())
            .unwrap();
        assert_eq!(
            (reqs(&p), p.groups.clone()),
            (vec!["pytest".to_string()], vec!["test".to_string()])
        );
        let legacy = LocalProject::legacy(dir.path(), &["bad name!".into()], false, at);
        assert!(legacy.is_err());
    }

    #[test]
    fn project_table_detection() {
        assert!(has_project_table(TEXT));
        assert!(!has_project_table("[tool.ruff]\nline-length = 1\n"));
        assert!(!has_project_table("not toml ["));
    }
}
