//! The first stage: input files → one normalized [`Inputs`], and with the command line's options
//! → [`Prepared`] (see [`prepare`]).
//!
//! Supported: conda `environment.yml` files in full: `name`, `channels` (names, URLs, paths,
//! `defaults`, `nodefaults`), `dependencies` as conda match specs, the `pip:` sub-list (kept
//! verbatim with its line numbers for the PyPI resolver), `variables` (recorded, not applied) and
//! conda-lock's `platforms:` extension. `prefix` is accepted and ignored, as conda-lock does.
//! Unknown top-level keys produce a warning, not an error.
//!
//! pip requirements files (any input not named `*.yml`/`*.yaml`, `*.toml` or one of the kinds
//! [`InputKind::of`] refuses) and `pip:` sections are parsed by [`requirements`] into one
//! [`PipInputs`]. A `pyproject.toml` input and the local project directories requirement lines
//! name are read by [`pyproject`] into [`Inputs::local_projects`], their dependencies into
//! [`PipInputs`].
//!
//! The YAML model is rattler's [`EnvironmentYaml`]; this module adds what it does not keep:
//! source locations for every dependency (for errors and drift findings), `platforms:`, and
//! warnings for keys conda would ignore.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use rattler_conda_types::{
    EnvironmentYaml, MatchSpec, MatchSpecOrSubSection, NamedChannelOrUrl, Subdir,
};

use crate::util::error::{Failure, fail};

pub mod channels;
pub mod prepare;
pub mod pyproject;
pub mod requirements;
pub mod target;

pub use prepare::{IndexStrategy, InputOptions, Prepared, Recorded, prepare, prepare_with};
pub use pyproject::{LocalProject, Selection};
pub use requirements::PipInputs;

/// A position in an input file, 1-based, printed as `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, as given.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A conda match spec and where it was written.
#[derive(Debug, Clone)]
pub struct CondaDependency {
    /// The spec as written.
    pub spec: MatchSpec,
    /// Where it was written.
    pub location: Location,
}

/// Everything envlock needs to know about the inputs, from every input file combined.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The input files, as given.
    pub sources: Vec<PathBuf>,
    /// The environment's `name:`, from the first file that has one.
    pub name: Option<String>,
    /// Channels in priority order; `nodefaults` removed, `defaults` kept for expansion by the
    /// conda module.
    pub channels: Vec<NamedChannelOrUrl>,
    /// The conda dependencies, in order, each with its location.
    pub conda: Vec<CondaDependency>,
    /// The pip requirements of all `pip:` sections and requirements files.
    pub pypi: PipInputs,
    /// Target platforms named in the inputs (conda-lock's `platforms:` key), in order.
    pub platforms: Vec<Subdir>,
    /// `variables:` from environment.yml; recorded, never applied to the solve.
    pub variables: Vec<(String, String)>,
    /// Things conda would silently ignore, reported to the user as warnings.
    pub warnings: Vec<String>,
    /// The local projects (a pyproject.toml input, `-e .`, `./pkg` lines), in order: their
    /// dependencies are in `pypi`, they themselves are installed from source.
    pub local_projects: Vec<LocalProject>,
}

/// The most conda and pip requirements (constraints included) one resolve takes: real
/// environments list a few hundred at most, and a hostile input with 100,000 unknown names
/// would otherwise keep CI busy for minutes.
pub const MAX_REQUIREMENTS: usize = 10_000;

/// The kind of an input file, decided by its name (and, for `*.toml`, its `[project]` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A conda `environment.yml` (any `*.yml`/`*.yaml`).
    EnvironmentYaml,
    /// A pip requirements file (anything not named otherwise).
    Requirements,
    /// A `pyproject.toml` (or another `*.toml` with a `[project]` table).
    Pyproject,
    /// A file envlock does not read, with what it reads instead.
    Unsupported(&'static str),
}

impl InputKind {
    /// The kind of `path`, by its name; a `*.toml` not named `pyproject.toml` is
    /// [`InputKind::Unsupported`] until [`InputKind::detect`] sees a `[project]` table.
    pub fn of(path: &Path) -> InputKind {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if name.ends_with(".yml") || name.ends_with(".yaml") {
            InputKind::EnvironmentYaml
        } else if name == "pyproject.toml" {
            InputKind::Pyproject
        } else if name.ends_with(".toml") {
            InputKind::Unsupported(
                "it is TOML without a `[project]` table; envlock reads a pyproject.toml's \
                 `[project]` table, environment.yml and requirements files",
            )
        } else if name == "pipfile" || name == "pipfile.lock" {
            InputKind::Unsupported(
                "envlock does not read Pipenv's files; export the requirements with \
                 `pipenv requirements > requirements.txt` and pass that",
            )
        } else if name == "setup.py" || name == "setup.cfg" {
            InputKind::Unsupported(
                "a setup.py/setup.cfg is not an input file; name the project's directory in a \
                 requirements file (`-e .` in requirements.txt), and envlock locks the \
                 dependencies its build backend reports",
            )
        } else if name.ends_with(".lock") {
            InputKind::Unsupported(
                "a lockfile is not an input; pass the environment.yml, requirements file or \
                 pyproject.toml it was made from",
            )
        } else if name.ends_with(".json") {
            InputKind::Unsupported(
                "envlock does not read JSON inputs; pass an environment.yml, a requirements \
                 file or a pyproject.toml",
            )
        } else {
            InputKind::Requirements
        }
    }

    /// The kind of `path` holding `text`: [`InputKind::of`], except that any `*.toml` with a
    /// `[project]` table is a [`InputKind::Pyproject`].
    pub fn detect(path: &Path, text: &str) -> InputKind {
        let kind = InputKind::of(path);
        let toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        if toml && pyproject::has_project_table(text) {
            InputKind::Pyproject
        } else {
            kind
        }
    }
}

/// The inputs used when none are given: `environment.yml` in `dir`, else `requirements.txt`,
/// else `pyproject.toml` (as uv and pixi read it by default). Any such name that is not a
/// directory counts, so that a FIFO or a device there is refused by name when it is read
/// instead of being passed over.
pub fn default_inputs(dir: &Path) -> Result<Vec<PathBuf>> {
    for name in [
        "environment.yml",
        "environment.yaml",
        "requirements.txt",
        "pyproject.toml",
    ] {
        if std::fs::metadata(dir.join(name)).is_ok_and(|m| !m.is_dir()) {
            return Ok(vec![PathBuf::from(name)]);
        }
    }
    Err(Failure::new(format!(
        "no input given and no environment.yml, requirements.txt or pyproject.toml in {}",
        dir.display()
    ))
    .hint("pass the input file: `envlock resolve path/to/environment.yml`")
    .into())
}

impl Inputs {
    /// Reads and combines the given input files, in order.
    pub fn load(paths: &[PathBuf]) -> Result<Inputs> {
        Inputs::load_with(paths, &Selection::default())
    }

    /// [`Inputs::load`], with the extras and groups `selection` picks from a pyproject.toml
    /// input.
    pub fn load_with(paths: &[PathBuf], selection: &Selection) -> Result<Inputs> {
        let mut spec = Inputs::default();
        for path in paths {
            let bytes = crate::util::fs::read_input(path)
                .with_context(|| format!("could not read {}", path.display()))?;
            let text = crate::util::fs::input_text(path, bytes)?;
            match InputKind::detect(path, &text) {
                InputKind::EnvironmentYaml => spec.add_environment_yaml(path, &text)?,
                InputKind::Requirements => spec.pypi.add_file(path, &env_var)?,
                InputKind::Pyproject => {
                    let location = Location {
                        file: path.clone(),
                        line: 1,
                        column: 1,
                    };
                    let project =
                        pyproject::Reader::new(path, &text).read(selection, false, location)?;
                    spec.add_local_project(project)?;
                }
                InputKind::Unsupported(instead) => {
                    return Err(Failure::new(format!(
                        "{}: is not an input envlock reads",
                        path.display()
                    ))
                    .hint(instead)
                    .into());
                }
            }
            spec.read_local_projects()?;
            spec.sources.push(path.clone());
        }
        spec.check_size()?;
        Ok(spec)
    }

    /// Refuses more than [`MAX_REQUIREMENTS`] conda and pip requirements (constraints
    /// included), naming the first one over the limit.
    fn check_size(&self) -> Result<()> {
        let locations = self
            .conda
            .iter()
            .map(|d| &d.location)
            .chain(self.pypi.requirements.iter().map(|r| &r.location))
            .chain(self.pypi.constraints.iter().map(|r| &r.location));
        if let Some(first) = locations.clone().nth(MAX_REQUIREMENTS) {
            return Err(Failure::new(format!(
                "{first}: the inputs hold {} requirements, more than the {MAX_REQUIREMENTS} \
                 envlock locks",
                locations.count()
            ))
            .hint("real environments list far fewer; check that these are the files you meant")
            .into());
        }
        Ok(())
    }

    /// Reads the pyproject.toml of each local project directory the requirement lines named.
    fn read_local_projects(&mut self) -> Result<()> {
        for local in std::mem::take(&mut self.pypi.local) {
            let pyproject = if local.dir == Path::new(".") {
                PathBuf::from("pyproject.toml")
            } else {
                local.dir.join("pyproject.toml")
            };
            let shown = local.dir.display();
            let place = &local.location;
            if !pyproject.is_file() {
                // setuptools' legacy build, as pip runs it: the metadata hook tells.
                if local.dir.join("setup.py").is_file() || local.dir.join("setup.cfg").is_file() {
                    let project = LocalProject::legacy(
                        &local.dir,
                        &local.extras,
                        local.editable,
                        local.location.clone(),
                    )?;
                    self.add_local_project(project)?;
                    continue;
                }
                return Err(Failure::new(format!(
                    "{place}: the local project {shown} has no pyproject.toml, setup.py or \
                     setup.cfg, so envlock cannot read its name and dependencies"
                ))
                .hint(
                    "declare the project's name and dependencies in `[project]` of a \
                     pyproject.toml, or publish it to an index and require it by name",
                )
                .at(&place.file, None, place.line, place.column)
                .into());
            }
            let bytes = crate::util::fs::read_input(&pyproject)
                .with_context(|| format!("could not read {}", pyproject.display()))?;
            let text = crate::util::fs::input_text(&pyproject, bytes)?;
            let selection = Selection {
                extras: local.extras.clone(),
                ..Selection::default()
            };
            let project = pyproject::Reader::new(&pyproject, &text).read(
                &selection,
                local.editable,
                local.location.clone(),
            )?;
            self.add_local_project(project)?;
        }
        Ok(())
    }

    /// Adds a local project: its requirements to the pip requirements, itself to
    /// `local_projects`.
    pub fn add_local_project(&mut self, project: LocalProject) -> Result<()> {
        if let Some(other) = self
            .local_projects
            .iter()
            .find(|p| p.pyproject == project.pyproject)
        {
            let place = &project.location;
            return Err(Failure::new(format!(
                "{place}: the local project `{}` is named twice (first at {})",
                project.shown(),
                other.location
            ))
            .hint("name each local project once, with all the extras it needs")
            .into());
        }
        for (text, location) in &project.requirements {
            self.pypi.add_requirement(text, location)?;
        }
        self.local_projects.push(project);
        Ok(())
    }

    /// Completes the local project `index` (a [`LocalProject::from_backend`] one) with what its
    /// backend's metadata gives, or what the lock recorded of it: its name (when the inputs give
    /// none), version (when not static), the extras (for `--all-extras`) and the requirements,
    /// which join the pip requirements at the place the project is named.
    pub fn complete_local_project(
        &mut self,
        index: usize,
        name: &str,
        version: Option<&str>,
        all_extras: Option<Vec<String>>,
        requires: Vec<String>,
    ) -> Result<()> {
        let project = &mut self.local_projects[index];
        if project.name.is_empty() {
            project.name = name.to_string();
        }
        if project.version.is_none() {
            project.version = version.map(str::to_string);
        }
        if let Some(extras) = all_extras {
            project.extras = extras;
        }
        let location = project.location.clone();
        project.backend_requires = requires.clone();
        for text in &requires {
            self.pypi.add_requirement(text, &location)?;
        }
        self.check_size()
    }

    /// Parses one environment.yml and adds it to this spec.
    pub fn add_environment_yaml(&mut self, path: &Path, text: &str) -> Result<()> {
        let at = |line: usize, column: usize| Location {
            file: path.to_path_buf(),
            line,
            column,
        };
        // Syntax and shape first, so that YAML errors are not reported as model errors.
        check_nesting(path, text)?;
        let value: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| yaml_error(path, text, &e))?;
        let mapping = match value {
            serde_yaml::Value::Mapping(m) => m,
            serde_yaml::Value::Null => fail!("{}: the file is empty", path.display()),
            _ => fail!(
                "{}:1:1: expected a mapping with `channels:` and `dependencies:`",
                path.display()
            ),
        };
        let outline = Outline::scan(text);

        let mut platforms_value = None;
        for (key, value) in &mapping {
            let key = key.as_str().unwrap_or_default();
            match key {
                "name" | "prefix" | "channels" | "dependencies" | "variables" => {}
                "platforms" => platforms_value = Some(value.clone()),
                _ => {
                    let line = outline.key_line(key).unwrap_or(1);
                    self.warnings
                        .push(format!("{}: unknown key `{key}` is ignored", at(line, 1)));
                }
            }
        }

        let env = EnvironmentYaml::from_yaml_str(text).map_err(|e| yaml_error(path, text, &e))?;

        if self.name.is_none() {
            self.name = env.name.clone();
        }
        for channel in env.channels {
            if channel.as_str() == "nodefaults" || self.channels.contains(&channel) {
                continue;
            }
            self.channels.push(channel);
        }

        let deps_line = outline.key_line("dependencies").unwrap_or(1);
        let mut pip_index = 0;
        let mut pip_lines = Vec::new();
        for (index, dependency) in env.dependencies.into_iter().enumerate() {
            let item = outline.items.get(index);
            let location = item.map_or_else(|| at(deps_line, 1), |i| at(i.line, i.column));
            match dependency {
                MatchSpecOrSubSection::MatchSpec(spec) => {
                    if spec.name.as_exact().is_none() {
                        return Err(Failure::new(format!(
                            "{location}: `{spec}` does not name a single package; \
                             envlock locks exact package names"
                        ))
                        .at(path, Some(text), location.line, location.column)
                        .into());
                    }
                    self.conda.push(CondaDependency {
                        spec: *spec,
                        location,
                    });
                }
                MatchSpecOrSubSection::SubSection(name, lines) if name == "pip" => {
                    for text in lines {
                        let location = outline
                            .pip_items
                            .get(pip_index)
                            .map_or_else(|| location.clone(), |i| at(i.line, i.column));
                        pip_index += 1;
                        pip_lines.push((text, location));
                    }
                }
                MatchSpecOrSubSection::SubSection(name, _) => {
                    self.warnings.push(format!(
                        "{location}: `{name}:` sections are not understood by conda and are ignored"
                    ));
                }
            }
        }

        if let Some(value) = platforms_value {
            let line = outline.key_line("platforms").unwrap_or(1);
            let names: Vec<String> = serde_yaml::from_value(value).map_err(|_| {
                Failure::new(format!(
                    "{}: `platforms:` must be a list of conda platforms",
                    at(line, 1)
                ))
                .hint("for example `platforms: [linux-64, linux-aarch64]`")
                .at(path, Some(text), line, 1)
            })?;
            for name in names {
                let platform = parse_platform(&name).map_err(|f| {
                    Failure::new(format!("{}: {}", at(line, 1), f.message))
                        .hint(f.hint.unwrap_or_default())
                        .at(path, Some(text), line, 1)
                })?;
                if !self.platforms.contains(&platform) {
                    self.platforms.push(platform);
                }
            }
        }

        if !pip_lines.is_empty() {
            let base_dir = path.parent().unwrap_or(Path::new(""));
            self.pypi.add_lines(&pip_lines, base_dir, &env_var)?;
        }

        for (key, value) in env.variables {
            self.variables.push((key, value));
        }
        Ok(())
    }
}

/// Environment variables for `${VAR}` expansion in pip lines, as pip does.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Parses a conda platform name such as `linux-64`, rejecting `noarch`.
pub fn parse_platform(name: &str) -> std::result::Result<Subdir, Failure> {
    match name.parse::<Subdir>() {
        Ok(Subdir::NoArch) | Err(_) => Err(Failure::new(format!(
            "`{name}` is not a conda target platform"
        ))
        .hint("use a platform such as linux-64, linux-aarch64, osx-arm64 or win-64")),
        Ok(platform) => Ok(platform),
    }
}

/// Turns a serde_yaml error into `file:line:column: message`.
/// How deep `[`/`{` may nest in an environment.yml: real files nest two or three levels.
const MAX_YAML_NESTING: usize = 64;

/// Refuses flow collections nested deeper than [`MAX_YAML_NESTING`] before serde_yaml sees
/// them: its recursion limit is only reached after seconds of work on a few hundred KB of `[[[`.
/// Quoted strings and comments are skipped, so the scan never refuses a valid shallow file.
fn check_nesting(path: &Path, text: &str) -> Result<()> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut previous = '\n';
    for c in text.chars() {
        column += 1;
        if c == '\n' {
            // Quoted scalars may span lines: a quote stays open.
            (line, column, comment) = (line + 1, 0, false);
        } else if comment {
            // Nothing in a comment counts.
        } else if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else {
            match c {
                '#' if previous.is_whitespace() => comment = true,
                '"' | '\'' if depth > 0 || previous.is_whitespace() || previous == ':' => {
                    quote = Some(c)
                }
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_YAML_NESTING {
                        return Err(Failure::new(format!(
                            "{}:{line}:{column}: `[`/`{{` nested more than {MAX_YAML_NESTING} levels deep",
                            path.display()
                        ))
                        .hint("an environment.yml nests a few levels; this file is not one")
                        .at(path, Some(text), line, column)
                        .into());
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        previous = c;
    }
    Ok(())
}

/// `line:column` moved into `text`: the YAML parser reports an unexpected end of a file that
/// does not end in a newline on the line after its last, which is then the end of the last line.
fn within(text: &str, line: usize, column: usize) -> (usize, usize) {
    let lines = text.split('\n').count();
    if line <= lines {
        return (line.max(1), column.max(1));
    }
    let last = text.rsplit('\n').next().unwrap_or_default();
    (lines, last.chars().count() + 1)
}

fn yaml_error(path: &Path, text: &str, error: &serde_yaml::Error) -> anyhow::Error {
    // serde_yaml says " at line L column C" (sometimes twice, for nested errors); the location
    // is printed up front instead.
    // serde_yaml quotes the offending value, which may be a URL with credentials.
    let mut message = crate::util::redact::quoted_value(&error.to_string());
    while let Some(start) = message.find(" at line ") {
        let rest = &message[start + " at line ".len()..];
        let len = rest
            .find(" column ")
            .map(|i| {
                let after = &rest[i + " column ".len()..];
                i + " column ".len() + after.chars().take_while(char::is_ascii_digit).count()
            })
            .unwrap_or(rest.len());
        message.replace_range(start..start + " at line ".len() + len, "");
    }
    match error.location() {
        Some(l) => {
            let (line, column) = within(text, l.line(), l.column());
            Failure::new(format!("{}:{line}:{column}: {message}", path.display())).at(
                path,
                Some(text),
                line,
                column,
            )
        }
        // No place (more than one document, say): the file's start.
        None => Failure::new(format!("{}:1:1: {message}", path.display())),
    }
    .into()
}

/// Where things are in a block-style environment.yml: serde_yaml keeps no positions, so a light
/// line scan finds the top-level keys and the list items under `dependencies:`. When the file uses
/// a style the scan does not follow (flow lists), locations fall back to the key's line.
#[derive(Debug, Default)]
struct Outline {
    keys: Vec<(String, usize)>,
    items: Vec<ItemPos>,
    pip_items: Vec<ItemPos>,
}

#[derive(Debug, Clone, Copy)]
struct ItemPos {
    line: usize,
    column: usize,
}

impl Outline {
    fn scan(text: &str) -> Outline {
        let mut outline = Outline::default();
        let mut in_deps = false;
        let mut item_indent = None;
        let mut in_pip = false;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = raw.len() - trimmed.len();
            if indent == 0 && !trimmed.starts_with('-') {
                if let Some((key, _)) = trimmed.split_once(':') {
                    outline.keys.push((key.trim().to_string(), line));
                    in_deps = key.trim() == "dependencies";
                    item_indent = None;
                    in_pip = false;
                }
                continue;
            }
            if !in_deps || !trimmed.starts_with('-') {
                continue;
            }
            let item_text = trimmed[1..].trim_start();
            let column = indent + 1 + (trimmed.len() - 1 - item_text.len()) + 1;
            let top = *item_indent.get_or_insert(indent);
            if indent == top {
                outline.items.push(ItemPos { line, column });
                in_pip = item_text.trim_end().starts_with("pip:")
                    && item_text
                        .trim_end()
                        .trim_start_matches("pip:")
                        .trim()
                        .is_empty();
            } else if indent > top && in_pip {
                outline.pip_items.push(ItemPos { line, column });
            }
        }
        outline
    }

    fn key_line(&self, key: &str) -> Option<usize> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, l)| *l)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn deeply_nested_yaml_fails_fast_with_the_place() {
        let mut spec = super::Inputs::default();
        let text = format!("dependencies: {}", "[".repeat(200_000));
        let e = spec
            .add_environment_yaml(std::path::Path::new("environment.yml"), &text)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment.yml:1:79: `[`/`{` nested more than 64 levels deep"
        );
        let shallow =
            "channels: [conda-forge]\ndependencies: ['a[b', \"{x\", {pip: [six]}] # [[[\n";
        super::check_nesting(std::path::Path::new("e.yml"), shallow).unwrap();
    }

    use super::*;

    fn parse(text: &str) -> Result<Inputs> {
        let mut spec = Inputs::default();
        spec.add_environment_yaml(Path::new("environment.yml"), text)?;
        Ok(spec)
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse(text).unwrap_err())
    }

    #[test]
    fn parses_the_whole_format() {
        let spec = parse(
            "name: demo\n\
             channels:\n  - conda-forge\n  - https://example.com/chan\n  - nodefaults\n\
             platforms: [linux-64, osx-arm64]\n\
             variables:\n  FOO: bar\n\
             dependencies:\n\
             \x20 - numpy>=1.26,<2\n\
             \x20 - python=3.11.*\n\
             \x20 - conda-forge::openssl 3.*\n\
             \x20 - pytorch[version='>=2',build=*cuda*]\n\
             \x20 - libblas=*=*openblas\n\
             \x20 - pip\n\
             \x20 - pip:\n\
             \x20   - flask==3.0.0\n\
             \x20   - --index-url https://pypi.org/simple\n",
        )
        .unwrap();
        assert_eq!(spec.name.as_deref(), Some("demo"));
        let channels: Vec<_> = spec
            .channels
            .iter()
            .map(|c| c.as_str().to_string())
            .collect();
        assert_eq!(channels, ["conda-forge", "https://example.com/chan"]);
        assert_eq!(spec.platforms, [Subdir::Linux64, Subdir::OsxArm64]);
        assert_eq!(spec.variables, [("FOO".into(), "bar".into())]);
        let specs: Vec<_> = spec.conda.iter().map(|d| d.spec.to_string()).collect();
        assert_eq!(specs.len(), 6);
        assert_eq!(spec.conda[0].spec.to_string(), "numpy >=1.26,<2");
        assert_eq!(spec.conda[1].spec.to_string(), "python 3.11.*");
        assert!(spec.conda[2].spec.channel.is_some());
        assert!(spec.conda[3].spec.build.is_some());
        assert!(spec.conda[4].spec.build.is_some());
        assert_eq!(spec.conda[0].location.line, 10);
        assert_eq!(spec.conda[0].location.column, 5);
        assert_eq!(spec.conda[5].location.line, 15);
        let pip = &spec.pypi;
        assert_eq!(pip.requirements.len(), 1);
        assert_eq!(pip.requirements[0].requirement.to_string(), "flask==3.0.0");
        assert_eq!(pip.requirements[0].location.line, 17);
        assert_eq!(pip.requirements[0].location.column, 7);
        assert_eq!(
            pip.options.index_url.as_ref().unwrap().as_str(),
            "https://pypi.org/simple"
        );
        assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
    }

    #[test]
    fn unknown_keys_warn_with_their_line() {
        let spec =
            parse("channels: [conda-forge]\ndependencies: [python]\nfrobnicate: 1\n").unwrap();
        assert_eq!(
            spec.warnings,
            ["environment.yml:3:1: unknown key `frobnicate` is ignored"]
        );
    }

    #[test]
    fn invalid_match_spec_names_file_line_and_column() {
        let e = err("channels: [conda-forge]\ndependencies:\n  - python\n  - numpy>=>1\n");
        assert!(e.starts_with("environment.yml:4:5: "), "{e}");
        assert!(e.contains("numpy") || e.contains(">=>1"), "{e}");
    }

    #[test]
    fn malformed_yaml_names_file_line_and_column() {
        let e = err("channels: [conda-forge\ndependencies:\n  - python\n");
        assert!(e.starts_with("environment.yml:"), "{e}");
        let line: usize = e.split(':').nth(1).unwrap().parse().unwrap();
        assert!(line >= 1, "{e}");
    }

    #[test]
    fn nested_errors_name_the_location_once() {
        let e = err("channels: [conda-forge]\ndependencies:\n  - pip: 3\n");
        assert!(e.starts_with("environment.yml:3:"), "{e}");
        assert!(!e.contains("at line"), "{e}");
    }

    #[test]
    fn bad_platform_is_an_error() {
        let e = err("channels: [conda-forge]\nplatforms: [linux-65]\ndependencies: [python]\n");
        assert!(
            e.contains("environment.yml:2:1: `linux-65` is not a conda target platform"),
            "{e}"
        );
        let e = err("channels: [conda-forge]\nplatforms: [noarch]\ndependencies: [python]\n");
        assert!(e.contains("`noarch`"), "{e}");
    }

    #[test]
    fn empty_and_non_mapping_files_fail_clearly() {
        assert!(err("").contains("empty"));
        assert!(err("- python\n").contains("expected a mapping"));
    }

    #[test]
    fn inputs_default_to_environment_yml_then_requirements() {
        let dir = tempfile::tempdir().unwrap();
        assert!(default_inputs(dir.path()).is_err());
        std::fs::write(dir.path().join("requirements.txt"), "").unwrap();
        assert_eq!(
            default_inputs(dir.path()).unwrap(),
            [PathBuf::from("requirements.txt")]
        );
        std::fs::write(dir.path().join("environment.yml"), "").unwrap();
        assert_eq!(
            default_inputs(dir.path()).unwrap(),
            [PathBuf::from("environment.yml")]
        );
    }
}
