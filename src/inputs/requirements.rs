//! pip requirements files: `requirements.txt` and the lines of an environment.yml `pip:` section.
//!
//! The format is whatever pip's `req_file.py` accepts, and this module follows it step by step:
//! lines are split, joined at trailing backslashes (the joined line keeps the first line's
//! location), stripped of comments (`#` at the start of a line or after whitespace), then
//! `${NAME}` environment variables are expanded, and only then parsed. A line is split at the
//! first space-separated token that starts with `-`: what comes before is the requirement, what
//! comes after is shell-split into options, exactly as pip does.
//!
//! Supported:
//!
//! - PEP 508 requirements with extras, version specifiers and markers
//!   (`requests[socks]>=2; python_version < "3.12"`), with any number of per-requirement
//!   `--hash=sha256:…` options (`--hash sha256:…` too; sha384 and sha512 are accepted as pip does).
//! - Direct references to a wheel or source archive over https or http
//!   (`name @ https://…/name-1.0-py3-none-any.whl`), kept as given.
//! - `-r`/`--requirement` and `-c`/`--constraint` includes, relative to the including file's
//!   directory (the environment.yml's directory for a `pip:` section, where conda writes the
//!   temporary requirements file it hands to pip). Requirements read through `-c` are
//!   constraints; as in pip, what a nested file holds depends only on the flag that names it
//!   (`-r` inside a constraints file reads requirements), and constraints cannot have extras.
//!   `file:` URLs work as paths. A file may be included twice through different paths (a
//!   diamond); including a file from itself, directly or not, is an error naming the chain.
//! - The options that shape a resolution: `-i`/`--index-url` (and its alias `--pypi-url`),
//!   `--extra-index-url`, `-f`/`--find-links`, `--pre`, `--only-binary`, `--no-binary`,
//!   `--prefer-binary`, in both `--opt value` and `--opt=value` spellings, and long options
//!   abbreviated to a unique prefix (`--extra-index`), since pip's optparse allows that.
//! - Accepted with no effect: `--trusted-host` and `--use-feature` (they change how pip talks to
//!   an index, not what gets locked), `--require-hashes` (the lock always has hashes),
//!   `-C`/`--config-settings` (build-backend settings; nothing is built to lock), and
//!   `--no-index`. pip reads `--no-index` as "use only `--find-links`"; envlock records nothing
//!   for it and resolves against the configured indexes and find-links as usual, which is fine
//!   because the lock pins every file by URL and hash, so installing from it never consults an
//!   index either way.
//!
//! Not supported, each rejected with an error that says why and what to do instead: editable
//! installs (`-e`), local paths and `file:` URLs, version-control URLs (`git+`, `hg+`, `svn+`,
//! `bzr+`), URLs without a package name, direct URLs that do not end in a wheel or source
//! archive, remote (`http:`/`https:`) `-r`/`-c` files, `--global-option`, and any option pip's
//! requirements-file parser does not know.
//!
//! Where pip silently drops part of a line, this module errors instead, so the lock can never
//! differ from what the user thinks they wrote: options other than `--hash`/`--config-settings`
//! on a requirement line (pip ignores them), anything else on a `-r`/`-c` line (pip reads only
//! the first file and ignores the rest), `--hash` on a line without a requirement, and stray
//! words after the options. Other deliberate differences from pip:
//!
//! - A later `--index-url` replaces an earlier one, but keeps the `--extra-index-url`s seen
//!   before it (pip drops those; an accident of its implementation).
//! - Every `-f` on a line is kept (pip keeps only the first).
//! - `--hash` digests are checked for length and hex digits here (pip finds out at install).
//!
//! Errors name `file:line:column` and never contain credentials from URLs.

use std::{
    collections::BTreeSet,
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
};

use pep508_rs::{
    PackageName, Pep508ErrorSource, RequirementOrigin, VerbatimUrl, VersionOrUrl, split_scheme,
};
use url::Url;

use crate::{
    inputs::Location,
    util::{
        error::{Failure, fail},
        redact, shell,
    },
};

/// One requirement line, with its hashes and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipRequirement {
    /// The requirement; `origin` is the file it was read from.
    pub requirement: pep508_rs::Requirement,
    /// `--hash` values as given, `algorithm:hexdigest` (e.g. `sha256:…`), in order.
    pub hashes: Vec<String>,
    pub location: Location,
}

/// pip's `--only-binary` / `--no-binary` value for one of the two lists.
///
/// pip keeps the two lists mutually exclusive: naming a package in one removes it from the
/// other, and `:all:` clears the other list. A package named explicitly in one list wins over
/// `:all:` in the other; [`PipOptions::allows_binary`] and [`PipOptions::allows_source`] apply
/// that rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BinaryChoice {
    /// No package (the default, or after `:none:`).
    #[default]
    None,
    /// Every package (`:all:`).
    All,
    /// These packages (comma-separated names, normalized).
    Packages(BTreeSet<PackageName>),
}

impl BinaryChoice {
    /// Whether `name` is listed by name (not through `:all:`).
    fn names(&self, name: &PackageName) -> bool {
        matches!(self, BinaryChoice::Packages(names) if names.contains(name))
    }

    fn insert(&mut self, name: PackageName) {
        match self {
            // pip adds the name next to `:all:`, which changes nothing.
            BinaryChoice::All => {}
            BinaryChoice::None => *self = BinaryChoice::Packages(BTreeSet::from([name])),
            BinaryChoice::Packages(names) => {
                names.insert(name);
            }
        }
    }

    fn remove(&mut self, name: &PackageName) {
        if let BinaryChoice::Packages(names) = self {
            names.remove(name);
            if names.is_empty() {
                *self = BinaryChoice::None;
            }
        }
    }
}

/// The resolver options given in requirements files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipOptions {
    /// `--index-url`; `None` means PyPI. The last one given wins.
    pub index_url: Option<Url>,
    /// `--extra-index-url`s in order, without repeats.
    pub extra_index_urls: Vec<Url>,
    /// `--find-links` values in order, without repeats. A relative path that exists next to the
    /// requirements file is joined to that file's directory, as pip does; anything else (URLs,
    /// other paths) is kept as written.
    pub find_links: Vec<String>,
    /// `--pre`: allow pre-releases of every package.
    pub pre: bool,
    pub only_binary: BinaryChoice,
    pub no_binary: BinaryChoice,
    pub prefer_binary: bool,
}

impl PipOptions {
    /// Whether a wheel of `name` may be used (pip's `FormatControl.get_allowed_formats`).
    pub fn allows_binary(&self, name: &PackageName) -> bool {
        self.allowed_formats(name).0
    }

    /// Whether a source distribution of `name` may be used.
    pub fn allows_source(&self, name: &PackageName) -> bool {
        self.allowed_formats(name).1
    }

    /// `(binary, source)`: a package named in a list wins over `:all:` in either list.
    fn allowed_formats(&self, name: &PackageName) -> (bool, bool) {
        if self.only_binary.names(name) {
            (true, false)
        } else if self.no_binary.names(name) {
            (false, true)
        } else if self.only_binary == BinaryChoice::All {
            (true, false)
        } else if self.no_binary == BinaryChoice::All {
            (false, true)
        } else {
            (true, true)
        }
    }
}

/// Everything read from requirements files and `pip:` sections, combined.
#[derive(Debug, Clone, Default)]
pub struct PipInputs {
    /// Requirements in the order they were read (includes expanded in place).
    pub requirements: Vec<PipRequirement>,
    /// Requirements read through `-c` files.
    pub constraints: Vec<PipRequirement>,
    pub options: PipOptions,
    /// Every file read, in the order first read, each once.
    pub files: Vec<PathBuf>,
}

impl PipInputs {
    /// Parse a requirements file (and everything it includes) into self.
    pub fn add_file(
        &mut self,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<()> {
        Parser {
            spec: self,
            env,
            stack: Vec::new(),
        }
        .read_file(path, None, false)
    }

    /// Parse the lines of an environment.yml `pip:` section (each with its own Location; relative
    /// -r/-c paths resolve against `base_dir`, the environment.yml's directory).
    ///
    /// The lines go through the same steps as a file's lines, because conda writes them to a
    /// requirements file and runs `pip install -r` on it.
    pub fn add_lines(
        &mut self,
        lines: &[(String, Location)],
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<()> {
        let physical = lines
            .iter()
            .flat_map(|(text, location)| {
                split_lines(text)
                    .into_iter()
                    .map(move |line| (line.to_string(), location.clone()))
            })
            .collect();
        Parser {
            spec: self,
            env,
            stack: Vec::new(),
        }
        .parse_lines(physical, base_dir, false)
    }
}

/// A file being read, for cycle detection.
struct Open {
    /// Canonical path, to recognize a file however it was reached.
    key: PathBuf,
    /// The path as it was reached, for messages.
    shown: PathBuf,
}

struct Parser<'a> {
    spec: &'a mut PipInputs,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// The chain of files being read, outermost first.
    stack: Vec<Open>,
}

/// Who asked for a file: the `-r`/`-c` line and its text.
struct Include<'a> {
    location: &'a Location,
    directive: String,
}

impl Parser<'_> {
    fn read_file(
        &mut self,
        path: &Path,
        from: Option<Include<'_>>,
        constraint: bool,
    ) -> anyhow::Result<()> {
        let unreadable = |error: std::io::Error| -> anyhow::Error {
            match &from {
                Some(include) => failure(
                    include.location,
                    format!(
                        "`{}`: cannot read {}: {error}",
                        redact::text(&include.directive),
                        path.display()
                    ),
                    format!(
                        "paths in -r and -c are relative to the directory of the file that \
                         names them ({}); fix the path",
                        dir_shown(&include.location.file)
                    ),
                ),
                None => Failure::new(format!(
                    "{}: cannot read the requirements file: {error}",
                    path.display()
                ))
                .hint("check the path")
                .into(),
            }
        };
        let key = std::fs::canonicalize(path).map_err(unreadable)?;
        if let Some(start) = self.stack.iter().position(|open| open.key == key) {
            let chain: Vec<String> = self.stack[start..]
                .iter()
                .map(|open| open.shown.display().to_string())
                .chain([path.display().to_string()])
                .collect();
            // `from` is always set here: the outermost file cannot already be open.
            let include = from.expect("a file in the include chain was included");
            return Err(failure(
                include.location,
                format!(
                    "`{}` includes a file that is already being read: {}",
                    redact::text(&include.directive),
                    chain.join(" -> ")
                ),
                "requirements files must not include themselves; remove the -r/-c line that \
                 closes the cycle",
            ));
        }
        let bytes = std::fs::read(path).map_err(unreadable)?;
        let Ok(text) = String::from_utf8(bytes) else {
            fail!("{}: is not UTF-8 text", path.display());
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);

        // Once per file, however it was reached (`a/../b.txt` is `b.txt`).
        let seen = self
            .spec
            .files
            .iter()
            .any(|file| std::fs::canonicalize(file).is_ok_and(|file| file == key));
        if !seen {
            self.spec.files.push(path.to_path_buf());
        }
        let physical = split_lines(text)
            .into_iter()
            .enumerate()
            .map(|(index, line)| {
                let indent = line.chars().take_while(|c| c.is_whitespace()).count();
                let location = Location {
                    file: path.to_path_buf(),
                    line: index + 1,
                    column: indent + 1,
                };
                (line.to_string(), location)
            })
            .collect();
        let base_dir = path.parent().unwrap_or(Path::new("")).to_path_buf();

        self.stack.push(Open {
            key,
            shown: path.to_path_buf(),
        });
        let result = self.parse_lines(physical, &base_dir, constraint);
        self.stack.pop();
        result
    }

    fn parse_lines(
        &mut self,
        physical: Vec<(String, Location)>,
        base_dir: &Path,
        constraint: bool,
    ) -> anyhow::Result<()> {
        for (line, location) in join_lines(physical) {
            let line = strip_comment(&line);
            if line.is_empty() {
                continue;
            }
            let line = expand_env_vars(line, self.env);
            self.parse_line(&line, &location, base_dir, constraint)?;
        }
        Ok(())
    }

    fn parse_line(
        &mut self,
        line: &str,
        location: &Location,
        base_dir: &Path,
        constraint: bool,
    ) -> anyhow::Result<()> {
        let (args, options) = break_args_options(line);
        let Some(tokens) = shell::split(&options) else {
            return Err(failure(
                location,
                format!("cannot split the options `{}`", redact::text(&options)),
                "close the quote, or remove the trailing backslash",
            ));
        };
        let (given, positional) = parse_options(&tokens, location)?;

        // An editable install is rejected wherever `-e` appears.
        if given.iter().any(|option| option.kind == Kind::Editable) {
            return Err(failure(
                location,
                format!(
                    "`{}` is an editable install, which cannot be locked with hashes",
                    redact::text(line)
                ),
                "publish the package to an index, or install it in a later Dockerfile step",
            ));
        }
        if let Some(word) = positional.first() {
            return Err(failure(
                location,
                format!(
                    "unexpected `{}` after the options of `{}` (pip would ignore it)",
                    redact::text(word),
                    redact::text(line)
                ),
                "put each requirement on a line of its own, before its --hash options",
            ));
        }
        if args.is_empty() {
            self.option_line(&given, line, location, base_dir)
        } else {
            self.requirement_line(&args, &given, location, constraint)
        }
    }

    fn requirement_line(
        &mut self,
        args: &str,
        given: &[Given],
        location: &Location,
        constraint: bool,
    ) -> anyhow::Result<()> {
        let mut hashes = Vec::new();
        for option in given {
            match option.kind {
                Kind::Hash => hashes.push(parse_hash(option, location)?),
                Kind::ConfigSettings => check_config_settings(option, location)?,
                Kind::GlobalOption => return Err(reject_global_option(location)),
                _ => {
                    return Err(failure(
                        location,
                        format!(
                            "`{}` on the requirement line `{}` would be ignored by pip: only \
                             --hash and --config-settings apply to a single requirement",
                            option.kind.name(),
                            redact::text(args.trim())
                        ),
                        format!("put `{}` on a line of its own", option.kind.name()),
                    ));
                }
            }
        }
        let requirement = parse_requirement(args, location)?;
        if constraint && !requirement.extras.is_empty() {
            return Err(failure(
                location,
                format!(
                    "the constraint `{}` has extras, which pip does not allow in constraints",
                    redact::text(args.trim())
                ),
                format!(
                    "constrain the package without extras: `{}`",
                    redact::text(&without_extras(&requirement))
                ),
            ));
        }
        let requirement = PipRequirement {
            requirement,
            hashes,
            location: location.clone(),
        };
        if constraint {
            self.spec.constraints.push(requirement);
        } else {
            self.spec.requirements.push(requirement);
        }
        Ok(())
    }

    fn option_line(
        &mut self,
        given: &[Given],
        line: &str,
        location: &Location,
        base_dir: &Path,
    ) -> anyhow::Result<()> {
        if given.iter().any(|option| option.kind == Kind::Hash) {
            return Err(failure(
                location,
                format!(
                    "`{}` has --hash but no requirement (pip would ignore the hash)",
                    redact::text(line)
                ),
                "put --hash on the same line as the requirement it checks; end lines with `\\` \
                 to continue a long line",
            ));
        }
        let includes = given
            .iter()
            .filter(|option| matches!(option.kind, Kind::Requirement | Kind::Constraint))
            .count();
        if includes > 0 && given.len() > 1 {
            return Err(failure(
                location,
                format!(
                    "`{}` combines -r/-c with other options; pip would read only the first file \
                     and ignore the rest of the line",
                    redact::text(line)
                ),
                "put each -r, -c and option on a line of its own",
            ));
        }
        for option in given {
            let value = option.value.as_deref().unwrap_or_default();
            match option.kind {
                Kind::IndexUrl => self.spec.options.index_url = Some(index_url(option, location)?),
                Kind::ExtraIndexUrl => {
                    let url = index_url(option, location)?;
                    if !self.spec.options.extra_index_urls.contains(&url) {
                        self.spec.options.extra_index_urls.push(url);
                    }
                }
                Kind::FindLinks => {
                    // pip: a path that exists relative to the requirements file is taken from
                    // there; anything else is used as written.
                    let relative = base_dir.join(value);
                    let value = if !value.contains("://") && relative.exists() {
                        relative.to_string_lossy().into_owned()
                    } else {
                        value.to_string()
                    };
                    if !self.spec.options.find_links.contains(&value) {
                        self.spec.options.find_links.push(value);
                    }
                }
                Kind::Pre => self.spec.options.pre = true,
                Kind::PreferBinary => self.spec.options.prefer_binary = true,
                Kind::OnlyBinary | Kind::NoBinary => {
                    self.binary_choice(option, location)?;
                }
                Kind::ConfigSettings => check_config_settings(option, location)?,
                Kind::GlobalOption => return Err(reject_global_option(location)),
                Kind::NoIndex | Kind::RequireHashes | Kind::TrustedHost | Kind::UseFeature => {}
                Kind::Requirement | Kind::Constraint => {
                    // pip: `-r` inside a constraints file reads requirements, `-c` inside a
                    // requirements file reads constraints; the including file does not matter.
                    let nested_constraint = option.kind == Kind::Constraint;
                    self.include(value, nested_constraint, location, base_dir)?;
                }
                Kind::Hash | Kind::Editable => unreachable!("handled before"),
            }
        }
        Ok(())
    }

    fn include(
        &mut self,
        value: &str,
        constraint: bool,
        location: &Location,
        base_dir: &Path,
    ) -> anyhow::Result<()> {
        let directive = format!("{} {value}", if constraint { "-c" } else { "-r" });
        let scheme = value
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        let path = match scheme.as_deref() {
            Some("http" | "https") => {
                return Err(failure(
                    location,
                    format!(
                        "`{}` is a remote requirements file, which envlock does not fetch: its \
                         content could change between locks",
                        redact::text(&directive)
                    ),
                    "download it, keep the copy next to this file, and include it by path",
                ));
            }
            Some("file") => match Url::parse(value).ok().map(|url| url.to_file_path()) {
                Some(Ok(path)) => path,
                _ => {
                    return Err(failure(
                        location,
                        format!("`{}` is not a usable file: URL", redact::text(&directive)),
                        "include the file by path instead",
                    ));
                }
            },
            _ => base_dir.join(value),
        };
        let from = Include {
            location,
            directive,
        };
        self.read_file(&path, Some(from), constraint)
    }

    /// pip's `FormatControl.handle_mutual_excludes`.
    fn binary_choice(&mut self, option: &Given, location: &Location) -> anyhow::Result<()> {
        let value = option.value.as_deref().unwrap_or_default();
        let options = &mut self.spec.options;
        let (target, other) = if option.kind == Kind::OnlyBinary {
            (&mut options.only_binary, &mut options.no_binary)
        } else {
            (&mut options.no_binary, &mut options.only_binary)
        };
        if value.starts_with('-') {
            return Err(failure(
                location,
                format!("`{}` needs a value", option.kind.name()),
                format!(
                    "write `{} :all:`, `{} :none:` or package names separated by commas",
                    option.kind.name(),
                    option.kind.name()
                ),
            ));
        }
        let mut items: Vec<&str> = value.split(',').collect();
        while let Some(all) = items.iter().position(|item| *item == ":all:") {
            *other = BinaryChoice::None;
            *target = BinaryChoice::All;
            items.drain(..=all);
            // Names after `:all:` mean nothing unless a `:none:` resets the list first.
            if !items.contains(&":none:") {
                return Ok(());
            }
        }
        for item in items {
            if item == ":none:" {
                *target = BinaryChoice::None;
                continue;
            }
            // pip accepts (and ignores) empty items, as in `a,,b` or a trailing comma.
            if item.is_empty() {
                continue;
            }
            let Ok(name) = PackageName::from_str(item) else {
                return Err(failure(
                    location,
                    format!(
                        "`{}` in `{} {}` is not a package name",
                        redact::text(item),
                        option.kind.name(),
                        redact::text(value)
                    ),
                    "give `:all:`, `:none:` or package names separated by commas, without spaces",
                ));
            };
            other.remove(&name);
            target.insert(name);
        }
        Ok(())
    }
}

/// The options pip's requirements-file parser knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    IndexUrl,
    ExtraIndexUrl,
    NoIndex,
    FindLinks,
    Pre,
    OnlyBinary,
    NoBinary,
    PreferBinary,
    Requirement,
    Constraint,
    Editable,
    Hash,
    RequireHashes,
    TrustedHost,
    UseFeature,
    ConfigSettings,
    GlobalOption,
}

/// Long spellings, including aliases; prefixes of these are accepted when unique.
const LONG: &[(&str, Kind)] = &[
    ("index-url", Kind::IndexUrl),
    ("pypi-url", Kind::IndexUrl),
    ("extra-index-url", Kind::ExtraIndexUrl),
    ("no-index", Kind::NoIndex),
    ("find-links", Kind::FindLinks),
    ("pre", Kind::Pre),
    ("only-binary", Kind::OnlyBinary),
    ("no-binary", Kind::NoBinary),
    ("prefer-binary", Kind::PreferBinary),
    ("requirement", Kind::Requirement),
    ("constraint", Kind::Constraint),
    ("editable", Kind::Editable),
    ("hash", Kind::Hash),
    ("require-hashes", Kind::RequireHashes),
    ("trusted-host", Kind::TrustedHost),
    ("use-feature", Kind::UseFeature),
    ("config-settings", Kind::ConfigSettings),
    ("global-option", Kind::GlobalOption),
];

const SHORT: &[(char, Kind)] = &[
    ('i', Kind::IndexUrl),
    ('f', Kind::FindLinks),
    ('r', Kind::Requirement),
    ('c', Kind::Constraint),
    ('e', Kind::Editable),
    ('C', Kind::ConfigSettings),
];

impl Kind {
    /// The canonical spelling, for messages.
    fn name(self) -> &'static str {
        match self {
            Kind::IndexUrl => "--index-url",
            Kind::ExtraIndexUrl => "--extra-index-url",
            Kind::NoIndex => "--no-index",
            Kind::FindLinks => "--find-links",
            Kind::Pre => "--pre",
            Kind::OnlyBinary => "--only-binary",
            Kind::NoBinary => "--no-binary",
            Kind::PreferBinary => "--prefer-binary",
            Kind::Requirement => "--requirement",
            Kind::Constraint => "--constraint",
            Kind::Editable => "--editable",
            Kind::Hash => "--hash",
            Kind::RequireHashes => "--require-hashes",
            Kind::TrustedHost => "--trusted-host",
            Kind::UseFeature => "--use-feature",
            Kind::ConfigSettings => "--config-settings",
            Kind::GlobalOption => "--global-option",
        }
    }

    fn takes_value(self) -> bool {
        !matches!(
            self,
            Kind::NoIndex | Kind::Pre | Kind::PreferBinary | Kind::RequireHashes
        )
    }
}

/// One option as given on a line.
#[derive(Debug)]
struct Given {
    kind: Kind,
    value: Option<String>,
}

/// optparse over the shell-split options: returns the options in order and the leftover words.
fn parse_options(
    tokens: &[String],
    location: &Location,
) -> anyhow::Result<(Vec<Given>, Vec<String>)> {
    let mut given = Vec::new();
    let mut positional = Vec::new();
    let mut tokens = tokens.iter();
    while let Some(token) = tokens.next() {
        if token == "--" {
            positional.extend(tokens.by_ref().cloned());
            break;
        }
        let (kind, inline) = if let Some(body) = token.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (body, None),
            };
            (long_option(name, location)?, inline)
        } else if let Some(body) = token.strip_prefix('-').filter(|body| !body.is_empty()) {
            let mut chars = body.chars();
            let letter = chars.next().expect("not empty");
            let Some(&(_, kind)) = SHORT.iter().find(|(short, _)| *short == letter) else {
                return Err(unknown_option(&format!("-{letter}"), location));
            };
            // optparse: the rest of the token is the value (`-rfile`), else the next token.
            let rest = chars.as_str();
            (kind, (!rest.is_empty()).then(|| rest.to_string()))
        } else {
            positional.push(token.clone());
            continue;
        };
        let value = match (kind.takes_value(), inline) {
            (true, Some(value)) => Some(value),
            (true, None) => match tokens.next() {
                Some(value) => Some(value.clone()),
                None => {
                    return Err(failure(
                        location,
                        format!("`{}` needs a value", kind.name()),
                        format!("write `{} VALUE` or `{}=VALUE`", kind.name(), kind.name()),
                    ));
                }
            },
            (false, Some(_)) => {
                return Err(failure(
                    location,
                    format!("`{}` takes no value", kind.name()),
                    format!("write just `{}`", kind.name()),
                ));
            }
            (false, None) => None,
        };
        given.push(Given { kind, value });
    }
    Ok((given, positional))
}

/// optparse's long-option lookup: an exact name, or a prefix of exactly one option.
fn long_option(name: &str, location: &Location) -> anyhow::Result<Kind> {
    if let Some(&(_, kind)) = LONG.iter().find(|(long, _)| *long == name) {
        return Ok(kind);
    }
    let matches: Vec<&(&str, Kind)> = LONG
        .iter()
        .filter(|(long, _)| !name.is_empty() && long.starts_with(name))
        .collect();
    match matches.as_slice() {
        [(_, kind)] => Ok(*kind),
        [] => Err(unknown_option(&format!("--{name}"), location)),
        several => {
            let names: Vec<String> = several
                .iter()
                .map(|(long, _)| format!("--{long}"))
                .collect();
            Err(failure(
                location,
                format!(
                    "`--{}` is ambiguous: it could be {}",
                    redact::text(name),
                    names.join(", ")
                ),
                "spell the option out in full",
            ))
        }
    }
}

fn unknown_option(option: &str, location: &Location) -> anyhow::Error {
    failure(
        location,
        format!(
            "unknown option `{}` in a requirements file",
            redact::text(option)
        ),
        "requirements files take -r, -c, -i/--index-url, --extra-index-url, -f/--find-links, \
         --pre, --only-binary, --no-binary, --prefer-binary, --no-index, --trusted-host, \
         --use-feature, --require-hashes, and --hash/--config-settings after a requirement; \
         remove or fix the option",
    )
}

fn reject_global_option(location: &Location) -> anyhow::Error {
    failure(
        location,
        "`--global-option` passes options to `setup.py` builds, which envlock does not run",
        "remove it; if a package needs special build flags, build a wheel and publish it to an \
         index",
    )
}

/// pip's `--hash` check, plus a check of the digest itself.
fn parse_hash(option: &Given, location: &Location) -> anyhow::Result<String> {
    let value = option.value.as_deref().unwrap_or_default();
    let Some((algorithm, digest)) = value.split_once(':') else {
        return Err(failure(
            location,
            format!("`--hash {}` has no algorithm", redact::text(value)),
            "write the hash as `--hash=sha256:<hex digest>`",
        ));
    };
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(failure(
                location,
                format!(
                    "`--hash {}` uses `{}`, which pip does not accept",
                    redact::text(value),
                    redact::text(algorithm)
                ),
                "use sha256, sha384 or sha512, e.g. `--hash=sha256:<hex digest>`",
            ));
        }
    };
    if digest.len() != length || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(failure(
            location,
            format!(
                "`--hash {}` is not a {algorithm} digest: expected {length} hex digits",
                redact::text(value)
            ),
            "copy the digest again, e.g. from `pip hash FILE` or the index's file listing",
        ));
    }
    Ok(value.to_string())
}

fn check_config_settings(option: &Given, location: &Location) -> anyhow::Result<()> {
    let value = option.value.as_deref().unwrap_or_default();
    if !value.contains('=') {
        return Err(failure(
            location,
            format!(
                "`--config-settings {}` is not KEY=VALUE",
                redact::text(value)
            ),
            "write `--config-settings KEY=VALUE`",
        ));
    }
    Ok(())
}

fn index_url(option: &Given, location: &Location) -> anyhow::Result<Url> {
    let value = option.value.as_deref().unwrap_or_default();
    match Url::parse(value) {
        Ok(url) if url.has_host() || url.scheme() == "file" => Ok(url),
        Ok(_) => Err(failure(
            location,
            format!(
                "`{} {}` has no host",
                option.kind.name(),
                redact::text(value)
            ),
            "give an absolute URL such as https://pypi.org/simple",
        )),
        Err(error) => Err(failure(
            location,
            format!(
                "`{} {}` is not a URL: {error}",
                option.kind.name(),
                redact::text(value)
            ),
            "give an absolute URL such as https://pypi.org/simple",
        )),
    }
}

/// pip's `parse_req_from_line`, restricted to what can be locked.
fn parse_requirement(args: &str, location: &Location) -> anyhow::Result<pep508_rs::Requirement> {
    let text = args.trim();
    // pip: a URL may contain `;`, so only `; ` starts the markers after a bare URL.
    let separator = if is_url(text) { "; " } else { ";" };
    let (name_part, markers) = match text.split_once(separator) {
        Some((name, markers)) => (name.trim(), Some(markers.trim()).filter(|m| !m.is_empty())),
        None => (text, None),
    };

    if is_url(name_part) {
        let scheme = scheme_of(name_part);
        return Err(if is_vcs_scheme(&scheme) {
            reject_vcs(location, text)
        } else if scheme == "file" {
            reject_local(location, text)
        } else {
            reject_unnamed_url(location, text, name_part)
        });
    }
    // pip: `name @ …` is a PEP 508 requirement unless the part before `@` looks like a path.
    let named_url = name_part
        .split_once('@')
        .is_some_and(|(before, _)| !looks_like_path(before));
    if !named_url && (looks_like_path(name_part) || is_archive(name_part)) {
        return Err(reject_local(location, text));
    }

    let pep508 = match markers {
        Some(markers) => format!("{name_part} ; {markers}"),
        None => name_part.to_string(),
    };
    // Parsed with plain `Url`, then wrapped: pep508_rs's `VerbatimUrl` parser expands `${VAR}`
    // itself from the process environment (and `${PROJECT_ROOT}` to the working directory),
    // which would bypass `env` and make the lock depend on where envlock runs.
    let parsed = match pep508_rs::Requirement::<Url>::from_str(&pep508) {
        Ok(parsed) => parsed,
        Err(error) => {
            if let Pep508ErrorSource::UrlError(url_error) = &error.message {
                let url = name_part.split_once('@').map_or("", |(_, url)| url.trim());
                // No scheme (or a drive letter): a relative or absolute path.
                if split_scheme(url).is_none_or(|(scheme, _)| scheme.len() == 1) {
                    return Err(reject_local(location, text));
                }
                return Err(failure(
                    location,
                    format!("`{}` has an invalid URL: {url_error}", redact::text(text)),
                    "write `name @ https://…/name-1.0-py3-none-any.whl`",
                ));
            }
            let operators = ["==", "!=", "<=", ">=", "~=", "<", ">"];
            let hint =
                if name_part.contains('=') && !operators.iter().any(|o| name_part.contains(o)) {
                    "`=` is not a version operator; did you mean `==`?"
                } else {
                    "write a PEP 508 requirement such as `requests>=2.31`, \
                 `requests[socks]==2.32.3; python_version < \"3.12\"` or \
                 `name @ https://…/name-1.0-py3-none-any.whl`"
                };
            return Err(failure(
                location,
                format!(
                    "`{}` is not a valid requirement: {}",
                    redact::text(text),
                    redact::text(&error.message.to_string())
                ),
                hint,
            ));
        }
    };

    let version_or_url = match parsed.version_or_url {
        Some(VersionOrUrl::Url(url)) => {
            check_direct_url(&url, location, text)?;
            Some(VersionOrUrl::Url(VerbatimUrl::from_url(url)))
        }
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
            Some(VersionOrUrl::VersionSpecifier(specifiers))
        }
        None => None,
    };
    Ok(pep508_rs::Requirement {
        name: parsed.name,
        extras: parsed.extras,
        version_or_url,
        marker: parsed.marker,
        origin: Some(RequirementOrigin::File(location.file.clone())),
    })
}

/// A `name @ URL` reference must be an http(s) URL to one wheel or source archive.
fn check_direct_url(url: &Url, location: &Location, text: &str) -> anyhow::Result<()> {
    let scheme = url.scheme();
    if is_vcs_scheme(scheme) {
        return Err(reject_vcs(location, text));
    }
    if scheme == "file" || scheme.len() == 1 {
        return Err(reject_local(location, text));
    }
    if scheme != "https" && scheme != "http" {
        return Err(failure(
            location,
            format!(
                "`{}` uses a `{scheme}:` URL; only https and http URLs can be downloaded and \
                 hashed for the lock",
                redact::text(text)
            ),
            "use an https URL to a wheel or source archive, or require the package by version \
             from an index",
        ));
    }
    let file = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .unwrap_or_default();
    if !is_archive(file) {
        return Err(failure(
            location,
            format!(
                "`{}` does not point to a wheel or source archive, so there is no single file \
                 to hash",
                redact::text(text)
            ),
            "use a URL ending in .whl, .tar.gz or .zip, or require the package by version from \
             an index",
        ));
    }
    Ok(())
}

fn reject_local(location: &Location, text: &str) -> anyhow::Error {
    failure(
        location,
        format!(
            "`{}` is a local path, which cannot be locked reproducibly: the lock records where \
             to download each package and its hash, and a path on this machine is neither",
            redact::text(text)
        ),
        "publish the package to an index and require it by name and version, or install it in \
         a later Dockerfile step",
    )
}

fn reject_vcs(location: &Location, text: &str) -> anyhow::Error {
    failure(
        location,
        format!(
            "`{}` is a version-control URL, which cannot be locked with hashes: a checkout is \
             not a file with a fixed hash",
            redact::text(text)
        ),
        "require a released version from an index, point at a wheel or source archive \
         (`name @ https://…/name-1.0.tar.gz`), or install it in a later Dockerfile step",
    )
}

fn reject_unnamed_url(location: &Location, text: &str, url: &str) -> anyhow::Error {
    failure(
        location,
        format!(
            "`{}` is a URL without a package name, which cannot be locked: the resolver needs \
             the name to match it against the other requirements",
            redact::text(text)
        ),
        format!(
            "name the package: `{} @ {}`",
            name_from_url(url).unwrap_or_else(|| "NAME".to_string()),
            redact::text(url)
        ),
    )
}

/// A best guess at the package name of an archive URL, for hints: `#egg=`, else the file name.
fn name_from_url(url: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    if let Some(egg) = parsed
        .fragment()
        .and_then(|f| f.split('&').find_map(|part| part.strip_prefix("egg=")))
    {
        return Some(egg.to_string());
    }
    let file = parsed.path_segments()?.next_back()?;
    let lower = file.to_ascii_lowercase();
    let stem = ARCHIVE_EXTENSIONS.iter().find_map(|ext| {
        lower
            .ends_with(ext)
            .then(|| &file[..file.len() - ext.len()])
    })?;
    let name = if lower.ends_with(".whl") {
        stem.split('-').next()?
    } else {
        stem.rsplit_once('-').map_or(stem, |(name, _)| name)
    };
    (!name.is_empty()).then(|| name.to_string())
}

fn without_extras(requirement: &pep508_rs::Requirement) -> String {
    let mut requirement = requirement.clone();
    requirement.extras.clear();
    requirement.to_string()
}

/// pip's `is_url`: a scheme pip downloads from or a version-control scheme.
fn is_url(text: &str) -> bool {
    if !text.contains(':') {
        return false;
    }
    let scheme = scheme_of(text);
    matches!(scheme.as_str(), "http" | "https" | "file" | "ftp") || is_vcs_scheme(&scheme)
}

fn scheme_of(text: &str) -> String {
    text.split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// `git+https`, `hg+ssh`, …, and the bare `git:` protocol.
fn is_vcs_scheme(scheme: &str) -> bool {
    let scheme = scheme.to_ascii_lowercase();
    ["git", "hg", "svn", "bzr"].iter().any(|vcs| {
        scheme == *vcs
            || scheme
                .strip_prefix(vcs)
                .is_some_and(|rest| rest.starts_with('+'))
    })
}

/// pip's `_looks_like_path`.
fn looks_like_path(text: &str) -> bool {
    text.contains('/') || text.contains('\\') || text.starts_with('.')
}

/// pip's `ARCHIVE_EXTENSIONS`.
const ARCHIVE_EXTENSIONS: &[&str] = &[
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tlz",
    ".tar.lz",
    ".tar.lzma",
    ".zip",
    ".whl",
    ".tar.gz",
    ".tgz",
    ".tar",
];

/// pip's `is_archive_file`, ignoring extras (`./x.whl[extra]`).
fn is_archive(text: &str) -> bool {
    let text = match text.rfind('[') {
        Some(open) if text.ends_with(']') => &text[..open],
        _ => text,
    };
    let lower = text.to_ascii_lowercase();
    ARCHIVE_EXTENSIONS.iter().any(|ext| lower.ends_with(ext))
}

/// Python's `str.splitlines`.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        let breaks = matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if !breaks {
            continue;
        }
        lines.push(&text[start..index]);
        let mut end = index + c.len_utf8();
        if c == '\r' && chars.peek().is_some_and(|&(_, next)| next == '\n') {
            chars.next();
            end += 1;
        }
        start = end;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Whether pip's `COMMENT_RE` (`(^|\s+)#.*$`) matches at the start of the line.
fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// pip's `join_lines`: a line ending in `\` continues on the next line, unless it is a comment;
/// a comment ends a continuation. The joined line takes the location of its first line.
fn join_lines(physical: Vec<(String, Location)>) -> Vec<(String, Location)> {
    let mut logical = Vec::new();
    let mut pending: Option<(String, Location)> = None;
    for (line, location) in physical {
        if !line.ends_with('\\') || is_comment(&line) {
            // The space keeps the comment a comment once appended to the joined line.
            let line = if is_comment(&line) {
                format!(" {line}")
            } else {
                line
            };
            match pending.take() {
                Some((mut joined, first)) => {
                    joined.push_str(&line);
                    logical.push((joined, first));
                }
                None => logical.push((line, location)),
            }
        } else {
            // pip strips backslashes from both ends (`line.strip("\\")`).
            let part = line.trim_matches('\\');
            match &mut pending {
                Some((joined, _)) => joined.push_str(part),
                None => pending = Some((part.to_string(), location)),
            }
        }
    }
    logical.extend(pending);
    logical
}

/// pip's `ignore_comments` for one line: cut from the first `#` that starts the line or follows
/// whitespace (with that whitespace), then trim. A `#` inside a word (a URL fragment) stays.
fn strip_comment(line: &str) -> &str {
    let mut previous_whitespace = true;
    let mut run_start = 0;
    for (index, c) in line.char_indices() {
        if c == '#' && previous_whitespace {
            return line[..run_start].trim();
        }
        if c.is_whitespace() {
            if !previous_whitespace {
                run_start = index;
            }
            previous_whitespace = true;
        } else {
            previous_whitespace = false;
            run_start = index + c.len_utf8();
        }
    }
    line.trim()
}

/// pip's `expand_env_variables`: every `${NAME}` with NAME of `[A-Z0-9_]` is replaced by the
/// variable's value; unset and empty variables are left as written. Nothing else (`$NAME`,
/// `${lower}`) is touched, so a `$` in a URL or marker stays as it is.
fn expand_env_vars(line: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = line[from..].find("${") {
        let start = from + offset;
        let name_len = line[start + 2..]
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        let close = start + 2 + name_len;
        if name_len > 0 && line.as_bytes().get(close) == Some(&b'}') {
            found.push((&line[start..=close], &line[start + 2..close]));
            from = close + 1;
        } else {
            from = start + 1;
        }
    }
    // Like pip, replace each variable in turn in the whole (already partly expanded) line.
    let mut expanded = line.to_string();
    for (variable, name) in found {
        if let Some(value) = env(name).filter(|value| !value.is_empty()) {
            expanded = expanded.replace(variable, &value);
        }
    }
    expanded
}

/// pip's `break_args_options`: the requirement is every space-separated token before the first
/// one starting with `-`; the rest are options. (Markers are not shell-split: they have quotes.)
fn break_args_options(line: &str) -> (String, String) {
    let tokens: Vec<&str> = line.split(' ').collect();
    let first_option = tokens
        .iter()
        .position(|token| token.starts_with('-'))
        .unwrap_or(tokens.len());
    (
        tokens[..first_option].join(" "),
        tokens[first_option..].join(" "),
    )
}

fn failure(
    location: &Location,
    message: impl fmt::Display,
    hint: impl Into<String>,
) -> anyhow::Error {
    Failure::new(format!("{location}: {message}"))
        .hint(hint)
        .into()
}

fn dir_shown(file: &Path) -> String {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.display().to_string(),
        _ => ".".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const SHA_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const SHA_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| map.get(key).cloned()
    }

    /// A temporary directory with files written into it (subdirectories created).
    struct Tree {
        dir: tempfile::TempDir,
    }

    impl Tree {
        fn new(files: &[(&str, &str)]) -> Tree {
            let dir = tempfile::tempdir().unwrap();
            for (name, text) in files {
                let path = dir.path().join(name);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            Tree { dir }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn parse(
            &self,
            name: &str,
            env: &dyn Fn(&str) -> Option<String>,
        ) -> anyhow::Result<PipInputs> {
            let mut spec = PipInputs::default();
            spec.add_file(&self.path(name), env)?;
            Ok(spec)
        }
    }

    fn parse_with(text: &str, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<PipInputs> {
        Tree::new(&[("requirements.txt", text)]).parse("requirements.txt", env)
    }

    fn parse(text: &str) -> PipInputs {
        parse_with(text, &no_env).unwrap()
    }

    /// The failure for `text` as requirements.txt: (message, hint), with the temp dir removed
    /// from the message so tests can match `requirements.txt:3:1: …`.
    fn error(text: &str) -> (String, String) {
        let tree = Tree::new(&[("requirements.txt", text)]);
        let err = tree.parse("requirements.txt", &no_env).unwrap_err();
        split(&tree, err)
    }

    fn split(tree: &Tree, err: anyhow::Error) -> (String, String) {
        let failure = err
            .downcast_ref::<Failure>()
            .unwrap_or_else(|| panic!("not a Failure: {err:#}"));
        let prefix = format!("{}/", tree.dir.path().display());
        (
            failure.message.replace(&prefix, ""),
            failure.hint.clone().unwrap_or_default(),
        )
    }

    fn names(requirements: &[PipRequirement]) -> Vec<String> {
        requirements
            .iter()
            .map(|r| r.requirement.to_string())
            .collect()
    }

    fn package(name: &str) -> PackageName {
        PackageName::from_str(name).unwrap()
    }

    // --- Lines, comments, continuations -------------------------------------------------------

    #[test]
    fn comment_handling_follows_pip() {
        let spec = parse("# header\n\n   # indented\nflask==3.0.0  # why we pin\n\tnumpy\t# tab\n");
        assert_eq!(names(&spec.requirements), ["flask==3.0.0", "numpy"]);
        assert_eq!(spec.requirements[0].location.line, 4);
        assert_eq!(spec.requirements[1].location.line, 5);
        assert_eq!(spec.requirements[1].location.column, 2);
    }

    #[test]
    fn hash_inside_a_word_is_not_a_comment() {
        let spec = parse("pkg @ https://example.com/pkg-1.0.tar.gz#sha256=abc  # comment\n");
        let VersionOrUrl::Url(url) = spec.requirements[0]
            .requirement
            .version_or_url
            .as_ref()
            .unwrap()
        else {
            panic!("expected a URL");
        };
        assert_eq!(url.fragment(), Some("sha256=abc"));
    }

    #[test]
    fn strip_comment_cuts_at_first_comment_start() {
        assert_eq!(strip_comment("a # b # c"), "a");
        assert_eq!(strip_comment("#all"), "");
        assert_eq!(strip_comment("a#b c"), "a#b c");
        assert_eq!(strip_comment("a\t\t#x"), "a");
        assert_eq!(strip_comment("  a  "), "a");
    }

    #[test]
    fn continuation_joins_lines_and_keeps_first_location() {
        let spec = parse(&format!(
            "flask==3.0.0\n  requests==2.32.3 \\\n    --hash={SHA_A} \\\n    --hash={SHA_B}\nnumpy\n"
        ));
        assert_eq!(
            names(&spec.requirements),
            ["flask==3.0.0", "requests==2.32.3", "numpy"]
        );
        let requests = &spec.requirements[1];
        assert_eq!(requests.hashes, [SHA_A, SHA_B]);
        assert_eq!(requests.location.line, 2);
        assert_eq!(requests.location.column, 3);
        assert_eq!(spec.requirements[2].location.line, 5);
    }

    #[test]
    fn a_comment_ends_a_continuation() {
        // pip: a comment line is never continued and ends a pending continuation.
        let spec = parse("flask \\\n# comment \\\nnumpy\n");
        assert_eq!(names(&spec.requirements), ["flask", "numpy"]);
        assert_eq!(spec.requirements[0].location.line, 1);
        assert_eq!(spec.requirements[1].location.line, 3);
    }

    #[test]
    fn continuation_at_end_of_file() {
        let spec = parse("flask==3.0.0 \\");
        assert_eq!(names(&spec.requirements), ["flask==3.0.0"]);
    }

    #[test]
    fn crlf_bom_and_python_line_breaks() {
        let spec = parse("\u{feff}flask\r\nnumpy\rscipy\n");
        assert_eq!(names(&spec.requirements), ["flask", "numpy", "scipy"]);
        assert_eq!(spec.requirements[2].location.line, 3);
        assert_eq!(split_lines("a\r\nb\u{0c}c\n"), ["a", "b", "c"]);
    }

    // --- Environment variables ----------------------------------------------------------------

    #[test]
    fn env_vars_expand_only_braced_uppercase_names() {
        let env = env_of(&[("VERSION", "3.0.0"), ("lower", "x"), ("PLAIN", "y")]);
        let spec = parse_with("flask==${VERSION}\n", &env).unwrap();
        assert_eq!(names(&spec.requirements), ["flask==3.0.0"]);

        assert_eq!(expand_env_vars("a${lower}b", &env), "a${lower}b");
        assert_eq!(expand_env_vars("a$PLAIN b", &env), "a$PLAIN b");
        assert_eq!(expand_env_vars("${PLAIN}${PLAIN}", &env), "yy");
        assert_eq!(expand_env_vars("${UNSET}", &env), "${UNSET}");
        assert_eq!(expand_env_vars("$${PLAIN}}", &env), "$y}");
    }

    #[test]
    fn empty_env_var_is_left_as_written() {
        // pip: `if not value: continue`.
        let env = env_of(&[("EMPTY", "")]);
        assert_eq!(expand_env_vars("x${EMPTY}y", &env), "x${EMPTY}y");
    }

    #[test]
    fn env_vars_expand_in_options_after_comments_are_stripped() {
        let env = env_of(&[
            ("INDEX", "https://user:tok@example.com/simple"),
            ("HASHY", "a #b"),
        ]);
        let spec = parse_with("--index-url ${INDEX}\n", &env).unwrap();
        let url = spec.options.index_url.unwrap();
        assert_eq!(url.password(), Some("tok"));
        // Expansion comes after comment removal: a value with ` #` is not cut.
        assert_eq!(expand_env_vars(strip_comment("x ${HASHY}"), &env), "x a #b");
    }

    #[test]
    fn unset_env_var_in_url_is_not_looked_up_in_the_process_environment() {
        // pep508_rs would expand `${…}` itself from the real environment; we must not.
        let spec = parse("pkg @ https://example.com/${HOME}/pkg-1.0.tar.gz\n");
        let VersionOrUrl::Url(url) = spec.requirements[0]
            .requirement
            .version_or_url
            .as_ref()
            .unwrap()
        else {
            panic!("expected a URL");
        };
        assert!(url.path().contains("%7BHOME%7D"), "{url}");
    }

    // --- Includes -----------------------------------------------------------------------------

    #[test]
    fn requirement_includes_are_relative_to_the_including_file() {
        let tree = Tree::new(&[
            (
                "requirements.txt",
                "-r sub/base.txt\nflask\n--requirement=sub/more.txt\n",
            ),
            ("sub/base.txt", "-r ../shared/common.txt\nnumpy\n"),
            ("sub/more.txt", "scipy\n"),
            ("shared/common.txt", "requests\n"),
        ]);
        let spec = tree.parse("requirements.txt", &no_env).unwrap();
        assert_eq!(
            names(&spec.requirements),
            ["requests", "numpy", "flask", "scipy"]
        );
        let files: Vec<String> = spec
            .files
            .iter()
            .map(|f| {
                f.strip_prefix(tree.dir.path())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            files,
            [
                "requirements.txt",
                "sub/base.txt",
                "sub/../shared/common.txt",
                "sub/more.txt"
            ]
        );
        assert_eq!(
            spec.requirements[0].location.file,
            tree.path("sub/../shared/common.txt")
        );
        assert_eq!(spec.requirements[0].location.line, 1);
        assert_eq!(
            spec.requirements[0].requirement.origin,
            Some(RequirementOrigin::File(
                tree.path("sub/../shared/common.txt")
            ))
        );
    }

    #[test]
    fn long_and_attached_include_spellings() {
        let tree = Tree::new(&[
            (
                "requirements.txt",
                "--requirement a.txt\n-rb.txt\n--constraint=c.txt\n-c d.txt\n",
            ),
            ("a.txt", "aa\n"),
            ("b.txt", "bb\n"),
            ("c.txt", "cc==1\n"),
            ("d.txt", "dd==2\n"),
        ]);
        let spec = tree.parse("requirements.txt", &no_env).unwrap();
        assert_eq!(names(&spec.requirements), ["aa", "bb"]);
        assert_eq!(names(&spec.constraints), ["cc==1", "dd==2"]);
    }

    #[test]
    fn constraints_files_hold_constraints_and_their_options_apply() {
        let tree = Tree::new(&[
            ("requirements.txt", "-c constraints.txt\nflask\n"),
            (
                "constraints.txt",
                &format!("--pre\nwerkzeug<3 --hash={SHA_A}\n"),
            ),
        ]);
        let spec = tree.parse("requirements.txt", &no_env).unwrap();
        assert_eq!(names(&spec.requirements), ["flask"]);
        assert_eq!(names(&spec.constraints), ["werkzeug<3"]);
        assert_eq!(spec.constraints[0].hashes, [SHA_A]);
        assert!(spec.options.pre);
    }

    #[test]
    fn r_inside_a_constraints_file_reads_requirements_as_pip_does() {
        let tree = Tree::new(&[
            ("requirements.txt", "-c c.txt\n"),
            ("c.txt", "-r r.txt\nwerkzeug<3\n"),
            ("r.txt", "flask\n"),
        ]);
        let spec = tree.parse("requirements.txt", &no_env).unwrap();
        assert_eq!(names(&spec.requirements), ["flask"]);
        assert_eq!(names(&spec.constraints), ["werkzeug<3"]);
    }

    #[test]
    fn constraints_with_extras_are_rejected() {
        let tree = Tree::new(&[
            ("requirements.txt", "-c c.txt\n"),
            ("c.txt", "\nrequests[socks]==2.32.3\n"),
        ]);
        let err = tree.parse("requirements.txt", &no_env).unwrap_err();
        let (message, hint) = split(&tree, err);
        assert!(message.starts_with("c.txt:2:1: "), "{message}");
        assert!(message.contains("extras"), "{message}");
        assert!(hint.contains("`requests==2.32.3`"), "{hint}");
    }

    #[test]
    fn a_file_included_twice_without_a_cycle_is_fine() {
        let tree = Tree::new(&[
            ("requirements.txt", "-r a.txt\n-r sub/b.txt\n"),
            ("a.txt", "-r common.txt\n"),
            ("sub/b.txt", "-r ../common.txt\n"),
            ("common.txt", "numpy\n"),
        ]);
        let spec = tree.parse("requirements.txt", &no_env).unwrap();
        assert_eq!(names(&spec.requirements), ["numpy", "numpy"]);
        assert_eq!(spec.files.len(), 4, "{:?}", spec.files);
    }

    #[test]
    fn include_cycle_is_an_error_naming_the_chain() {
        let tree = Tree::new(&[
            ("requirements.txt", "flask\n-r a.txt\n"),
            ("a.txt", "-r b.txt\n"),
            ("b.txt", "# back\n-r ./a.txt\n"),
        ]);
        let err = tree.parse("requirements.txt", &no_env).unwrap_err();
        let (message, hint) = split(&tree, err);
        assert!(message.starts_with("b.txt:2:1: `-r ./a.txt`"), "{message}");
        assert!(message.ends_with("a.txt -> b.txt -> ./a.txt"), "{message}");
        assert!(hint.contains("cycle"), "{hint}");
    }

    #[test]
    fn self_include_is_a_cycle() {
        let (message, _) = error("-r requirements.txt\n");
        assert!(
            message.ends_with("requirements.txt -> requirements.txt"),
            "{message}"
        );
    }

    #[test]
    fn missing_include_names_the_including_line() {
        let tree = Tree::new(&[("requirements.txt", "flask\n\n-r nope.txt\n")]);
        let err = tree.parse("requirements.txt", &no_env).unwrap_err();
        let (message, hint) = split(&tree, err);
        assert!(
            message.starts_with("requirements.txt:3:1: `-r nope.txt`: cannot read nope.txt"),
            "{message}"
        );
        assert!(hint.contains("relative to the directory"), "{hint}");
    }

    #[test]
    fn missing_top_level_file_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let err = PipInputs::default()
            .add_file(&dir.path().join("missing.txt"), &no_env)
            .unwrap_err();
        let failure = err.downcast_ref::<Failure>().unwrap();
        assert!(
            failure.message.contains("missing.txt: cannot read"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn remote_includes_are_rejected_without_credentials() {
        let (message, hint) = error("-r https://user:s3cret@example.com/req.txt\n");
        assert!(message.starts_with("requirements.txt:1:1: "), "{message}");
        assert!(message.contains("remote requirements file"), "{message}");
        assert!(message.contains("https://example.com/req.txt"), "{message}");
        assert!(
            !message.contains("s3cret") && !message.contains("user"),
            "{message}"
        );
        assert!(hint.contains("download it"), "{hint}");
        let (message, _) = error("-c http://example.com/c.txt\n");
        assert!(
            message.contains("`-c http://example.com/c.txt` is a remote"),
            "{message}"
        );
    }

    #[test]
    fn file_url_includes_are_read() {
        let tree = Tree::new(&[("other.txt", "numpy\n")]);
        let url = Url::from_file_path(tree.path("other.txt")).unwrap();
        std::fs::write(tree.path("requirements.txt"), format!("-r {url}\n")).unwrap();
        let spec = tree.parse("requirements.txt", &no_env).unwrap();
        assert_eq!(names(&spec.requirements), ["numpy"]);
    }

    #[test]
    fn include_with_other_options_on_the_line_is_rejected() {
        let (message, hint) = error("-r a.txt --pre\n");
        assert!(
            message.contains("combines -r/-c with other options"),
            "{message}"
        );
        assert!(hint.contains("own"), "{hint}");
        let (message, _) = error("-r a.txt -r b.txt\n");
        assert!(message.contains("only the first file"), "{message}");
    }

    // --- Options ------------------------------------------------------------------------------

    #[test]
    fn index_options_in_both_spellings() {
        let spec = parse(
            "--index-url https://a.example/simple\n\
             --extra-index-url=https://b.example/simple\n\
             --extra-index-url https://c.example/simple\n\
             --extra-index-url https://b.example/simple\n\
             -f https://d.example/links\n\
             --find-links=https://e.example/links\n",
        );
        assert_eq!(
            spec.options.index_url.unwrap().as_str(),
            "https://a.example/simple"
        );
        let extras: Vec<&str> = spec
            .options
            .extra_index_urls
            .iter()
            .map(Url::as_str)
            .collect();
        assert_eq!(
            extras,
            ["https://b.example/simple", "https://c.example/simple"]
        );
        assert_eq!(
            spec.options.find_links,
            ["https://d.example/links", "https://e.example/links"]
        );
        assert!(spec.requirements.is_empty());
    }

    #[test]
    fn short_index_url_alias_and_last_wins() {
        let spec = parse(
            "-i https://a.example/simple\n--extra-index-url https://x.example/simple\n\
             -ihttps://b.example/simple\n--pypi-url=https://c.example/simple\n",
        );
        assert_eq!(
            spec.options.index_url.unwrap().as_str(),
            "https://c.example/simple"
        );
        // Extras seen before a later --index-url stay (pip would drop them).
        assert_eq!(spec.options.extra_index_urls.len(), 1);
    }

    #[test]
    fn find_links_relative_to_the_file_when_it_exists() {
        let tree = Tree::new(&[
            ("sub/requirements.txt", "-f wheels\n-f not-there\n"),
            ("sub/wheels/.keep", ""),
        ]);
        let spec = tree.parse("sub/requirements.txt", &no_env).unwrap();
        assert_eq!(
            spec.options.find_links,
            [
                tree.path("sub/wheels").display().to_string(),
                "not-there".to_string()
            ]
        );
    }

    #[test]
    fn flags_and_options_on_one_line() {
        let spec = parse("--pre --prefer-binary --no-index --trusted-host example.com\n");
        assert!(spec.options.pre);
        assert!(spec.options.prefer_binary);
        let spec = parse("flask\n");
        assert!(!spec.options.pre && !spec.options.prefer_binary);
    }

    #[test]
    fn accepted_options_without_effect() {
        let spec = parse(
            "--no-index\n--trusted-host example.com\n--use-feature=fast-deps\n\
             --require-hashes\n--config-settings key=value\nflask -C key=value\n",
        );
        assert_eq!(spec.options, PipOptions::default());
        assert_eq!(names(&spec.requirements), ["flask"]);
    }

    #[test]
    fn config_settings_need_key_value() {
        let (message, _) = error("flask --config-settings novalue\n");
        assert!(message.contains("is not KEY=VALUE"), "{message}");
    }

    #[test]
    fn long_options_may_be_abbreviated_when_unique() {
        let spec = parse("--extra-index https://b.example/simple\n--prefer\n--only=foo\n");
        assert_eq!(spec.options.extra_index_urls.len(), 1);
        assert!(spec.options.prefer_binary);
        assert!(!spec.options.pre);
        assert_eq!(
            spec.options.only_binary,
            BinaryChoice::Packages(BTreeSet::from([package("foo")]))
        );
    }

    #[test]
    fn ambiguous_abbreviation_is_an_error() {
        let (message, hint) = error("--no x\n");
        assert!(
            message.starts_with("requirements.txt:1:1: `--no` is ambiguous"),
            "{message}"
        );
        assert!(
            message.contains("--no-index") && message.contains("--no-binary"),
            "{message}"
        );
        assert!(hint.contains("full"), "{hint}");
        let (message, _) = error("--pr\n");
        assert!(
            message.contains("`--pr` is ambiguous: it could be --pre, --prefer-binary"),
            "{message}"
        );
        // `--pre` is an exact match even though it prefixes `--prefer-binary`.
        let spec = parse("--pre\n");
        assert!(spec.options.pre && !spec.options.prefer_binary);
    }

    #[test]
    fn unknown_options_are_errors() {
        let (message, hint) = error("flask\n--frobnicate\n");
        assert_eq!(
            message,
            "requirements.txt:2:1: unknown option `--frobnicate` in a requirements file"
        );
        assert!(hint.contains("--index-url"), "{hint}");
        let (message, _) = error("-x foo\n");
        assert!(message.contains("unknown option `-x`"), "{message}");
        let (message, _) = error("flask --upgrade\n");
        assert!(message.contains("unknown option `--upgrade`"), "{message}");
    }

    #[test]
    fn option_value_errors() {
        let (message, _) = error("--index-url\n");
        assert!(message.contains("`--index-url` needs a value"), "{message}");
        let (message, _) = error("--pre=yes\n");
        assert!(message.contains("`--pre` takes no value"), "{message}");
        let (message, hint) = error("--index-url not-a-url\n");
        assert!(message.contains("is not a URL"), "{message}");
        assert!(hint.contains("https://pypi.org/simple"), "{hint}");
    }

    #[test]
    fn global_options_on_a_requirement_line_are_rejected() {
        let (message, hint) = error("\nflask==3.0.0 --pre\n");
        assert!(
            message.starts_with(
                "requirements.txt:2:1: `--pre` on the requirement line `flask==3.0.0`"
            ),
            "{message}"
        );
        assert_eq!(hint, "put `--pre` on a line of its own");
        let (message, _) = error("flask -r other.txt\n");
        assert!(
            message.contains("`--requirement` on the requirement line"),
            "{message}"
        );
    }

    #[test]
    fn global_option_is_rejected() {
        let (message, _) = error("flask --global-option=--no-user-cfg\n");
        assert!(message.contains("`--global-option`"), "{message}");
    }

    #[test]
    fn stray_words_after_options_are_rejected() {
        let (message, hint) = error(&format!("flask --hash={SHA_A} numpy\n"));
        assert!(message.contains("unexpected `numpy`"), "{message}");
        assert!(hint.contains("on a line of its own"), "{hint}");
        let (message, _) = error("--pre numpy\n");
        assert!(message.contains("unexpected `numpy`"), "{message}");
    }

    #[test]
    fn unbalanced_quotes_in_options() {
        let (message, _) = error("flask --hash='sha256:abc\n");
        assert!(message.contains("cannot split the options"), "{message}");
    }

    // --- --only-binary / --no-binary ----------------------------------------------------------

    #[test]
    fn only_binary_and_no_binary_values() {
        let spec = parse("--only-binary :all:\n--no-binary Foo_Bar,baz\n");
        assert_eq!(spec.options.only_binary, BinaryChoice::All);
        assert_eq!(
            spec.options.no_binary,
            BinaryChoice::Packages(BTreeSet::from([package("foo-bar"), package("baz")]))
        );
        // A named package beats `:all:` in the other list.
        assert!(!spec.options.allows_binary(&package("foo-bar")));
        assert!(spec.options.allows_source(&package("foo-bar")));
        assert!(spec.options.allows_binary(&package("numpy")));
        assert!(!spec.options.allows_source(&package("numpy")));
    }

    #[test]
    fn binary_lists_are_mutually_exclusive() {
        let spec = parse("--no-binary foo,bar\n--only-binary=foo\n");
        assert_eq!(
            spec.options.no_binary,
            BinaryChoice::Packages(BTreeSet::from([package("bar")]))
        );
        assert_eq!(
            spec.options.only_binary,
            BinaryChoice::Packages(BTreeSet::from([package("foo")]))
        );
        // `:all:` clears the other list.
        let spec = parse("--no-binary foo\n--only-binary :all:\n");
        assert_eq!(spec.options.no_binary, BinaryChoice::None);
        assert_eq!(spec.options.only_binary, BinaryChoice::All);
        // Emptied list goes back to None.
        let spec = parse("--no-binary foo\n--only-binary foo\n");
        assert_eq!(spec.options.no_binary, BinaryChoice::None);
        assert!(spec.options.allows_binary(&package("other")));
        assert!(spec.options.allows_source(&package("other")));
    }

    #[test]
    fn none_resets_and_names_after_all_are_ignored() {
        let spec = parse("--only-binary :all:,foo\n");
        assert_eq!(spec.options.only_binary, BinaryChoice::All);
        let spec = parse("--only-binary :all:,:none:,foo\n");
        assert_eq!(
            spec.options.only_binary,
            BinaryChoice::Packages(BTreeSet::from([package("foo")]))
        );
        let spec = parse("--only-binary foo\n--only-binary :none:\n");
        assert_eq!(spec.options.only_binary, BinaryChoice::None);
    }

    #[test]
    fn binary_choice_errors() {
        let (message, _) = error("--only-binary=-x\n");
        assert!(
            message.contains("`--only-binary` needs a value"),
            "{message}"
        );
        let (message, _) = error("--no-binary foo,b@d\n");
        assert!(
            message.contains("`b@d` in `--no-binary foo,b@d` is not a package name"),
            "{message}"
        );
    }

    // --- Requirements -------------------------------------------------------------------------

    #[test]
    fn pep508_requirements_with_extras_markers_and_pins() {
        let spec = parse(
            "requests[socks]>=2; python_version<\"3.12\"\n\
             flask==3.0.0\n\
             numpy >= 1.26, < 2 ; sys_platform == 'linux'\n\
             Django\n",
        );
        let requests = &spec.requirements[0].requirement;
        assert_eq!(requests.name.as_ref(), "requests");
        assert_eq!(requests.extras.len(), 1);
        assert_eq!(requests.extras[0].as_ref(), "socks");
        let marker = requests.marker.contents().unwrap().to_string();
        assert!(marker.contains("python_full_version < '3.12'"), "{marker}");
        assert_eq!(
            spec.requirements[1]
                .requirement
                .version_or_url
                .as_ref()
                .unwrap()
                .to_string(),
            "==3.0.0"
        );
        let numpy = &spec.requirements[2].requirement;
        assert!(numpy.marker.contents().is_some());
        assert_eq!(
            numpy.version_or_url.as_ref().unwrap().to_string(),
            ">=1.26, <2"
        );
        assert_eq!(spec.requirements[3].requirement.name.as_ref(), "django");
        assert!(spec.requirements[3].requirement.version_or_url.is_none());
    }

    #[test]
    fn empty_marker_is_allowed() {
        let spec = parse("flask;\n");
        assert_eq!(names(&spec.requirements), ["flask"]);
    }

    #[test]
    fn hashes_in_every_spelling() {
        let spec = parse(&format!(
            "flask==3.0.0 --hash={SHA_A} --hash {SHA_B}\n\
             numpy==2.0.0 --hash=\"{SHA_A}\"\n\
             scipy==1.0 --hash=sha512:{}\n",
            "c".repeat(128)
        ));
        assert_eq!(spec.requirements[0].hashes, [SHA_A, SHA_B]);
        assert_eq!(spec.requirements[1].hashes, [SHA_A]);
        assert_eq!(
            spec.requirements[2].hashes,
            [format!("sha512:{}", "c".repeat(128))]
        );
    }

    #[test]
    fn hash_errors() {
        let (message, hint) = error("flask --hash=md5:abc\n");
        assert!(message.contains("uses `md5`"), "{message}");
        assert!(hint.contains("sha256"), "{hint}");
        let (message, _) = error("flask --hash=abc\n");
        assert!(message.contains("has no algorithm"), "{message}");
        let (message, _) = error("flask --hash=sha256:abc\n");
        assert!(message.contains("expected 64 hex digits"), "{message}");
        let (message, _) = error(&format!("flask --hash=sha256:{}\n", "g".repeat(64)));
        assert!(message.contains("not a sha256 digest"), "{message}");
    }

    #[test]
    fn hash_without_requirement_is_an_error() {
        let (message, hint) = error(&format!("flask\n--hash={SHA_A}\n"));
        assert!(message.starts_with("requirements.txt:2:1: "), "{message}");
        assert!(message.contains("no requirement"), "{message}");
        assert!(hint.contains("same line"), "{hint}");
    }

    #[test]
    fn direct_url_references_are_kept() {
        let spec = parse(
            "pkg @ https://example.com/files/pkg-1.0-py3-none-any.whl\n\
             other@http://example.com/other-2.0.tar.gz ; python_version >= \"3.9\"\n\
             third @ https://example.com/third-1.0.zip; sys_platform == \"linux\"\n",
        );
        let urls: Vec<String> = spec
            .requirements
            .iter()
            .map(|r| match r.requirement.version_or_url.as_ref().unwrap() {
                VersionOrUrl::Url(url) => url.to_string(),
                other => panic!("expected a URL, got {other}"),
            })
            .collect();
        assert_eq!(
            urls,
            [
                "https://example.com/files/pkg-1.0-py3-none-any.whl",
                "http://example.com/other-2.0.tar.gz",
                "https://example.com/third-1.0.zip",
            ]
        );
        assert!(spec.requirements[1].requirement.marker.contents().is_some());
        // pip splits the marker at `;` for named URLs, so no space is needed before it.
        assert!(spec.requirements[2].requirement.marker.contents().is_some());
    }

    #[test]
    fn direct_url_must_point_to_an_archive() {
        let (message, hint) = error("pkg @ https://example.com/simple/pkg/\n");
        assert!(
            message.contains("does not point to a wheel or source archive"),
            "{message}"
        );
        assert!(hint.contains(".whl"), "{hint}");
        let (message, _) = error("pkg @ ftp://example.com/pkg-1.0.tar.gz\n");
        assert!(message.contains("uses a `ftp:` URL"), "{message}");
    }

    #[test]
    fn invalid_requirements() {
        let (message, hint) = error("flask=3.0\n");
        assert!(
            message.starts_with("requirements.txt:1:1: `flask=3.0` is not a valid requirement"),
            "{message}"
        );
        assert!(hint.contains("did you mean `==`"), "{hint}");
        let (message, hint) = error("flask >= \n");
        assert!(message.contains("is not a valid requirement"), "{message}");
        assert!(hint.contains("PEP 508"), "{hint}");
    }

    // --- Rejected forms -----------------------------------------------------------------------

    #[test]
    fn editable_installs_are_rejected() {
        let (message, hint) = error("flask\n\n-e ./mypkg\n");
        assert_eq!(
            message,
            "requirements.txt:3:1: `-e ./mypkg` is an editable install, which cannot be locked \
             with hashes"
        );
        assert_eq!(
            hint,
            "publish the package to an index, or install it in a later Dockerfile step"
        );
        let (message, _) = error("--editable=git+https://github.com/o/r#egg=r\n");
        assert!(message.contains("is an editable install"), "{message}");
    }

    #[test]
    fn local_paths_are_rejected() {
        for line in [
            "./pkg",
            "../pkg[extra]",
            "/abs/path/pkg",
            "pkg/",
            ".",
            "pkg-1.0.tar.gz",
            "dist/pkg-1.0-py3-none-any.whl",
            "file:///abs/pkg-1.0.tar.gz",
            "pkg @ file:///abs/pkg-1.0.tar.gz",
            "pkg @ ./pkg",
            "pkg @ /abs/pkg-1.0.tar.gz",
            "C:\\pkgs\\pkg",
        ] {
            let (message, hint) = error(&format!("{line}\n"));
            assert!(
                message.starts_with(&format!("requirements.txt:1:1: `{line}` is a local path")),
                "{line}: {message}"
            );
            assert!(hint.contains("publish the package"), "{line}: {hint}");
        }
    }

    #[test]
    fn existing_local_directory_is_rejected() {
        let tree = Tree::new(&[
            ("requirements.txt", "./mypkg\n"),
            ("mypkg/pyproject.toml", ""),
        ]);
        let err = tree.parse("requirements.txt", &no_env).unwrap_err();
        let (message, _) = split(&tree, err);
        assert!(message.contains("`./mypkg` is a local path"), "{message}");
    }

    #[test]
    fn vcs_urls_are_rejected() {
        for line in [
            "git+https://github.com/org/repo@v1.0#egg=repo",
            "pkg @ git+https://github.com/org/repo@v1.0",
            "pkg@git+ssh://git@github.com/org/repo",
            "hg+https://hg.example.com/repo#egg=repo",
            "pkg @ svn+https://svn.example.com/repo/trunk",
            "bzr+lp:pkg",
            "git://github.com/org/repo",
        ] {
            let (message, hint) = error(&format!("{line}\n"));
            assert!(
                message.contains("is a version-control URL"),
                "{line}: {message}"
            );
            assert!(hint.contains("released version"), "{line}: {hint}");
        }
    }

    #[test]
    fn bare_archive_urls_are_rejected_with_a_named_suggestion() {
        let (message, hint) = error("https://example.com/files/My_Pkg-1.0-py3-none-any.whl\n");
        assert!(
            message.contains("is a URL without a package name"),
            "{message}"
        );
        assert_eq!(
            hint,
            "name the package: `My_Pkg @ https://example.com/files/My_Pkg-1.0-py3-none-any.whl`"
        );
        let (_, hint) = error("https://example.com/files/pkg-2.0.tar.gz\n");
        assert!(hint.starts_with("name the package: `pkg @ "), "{hint}");
        let (_, hint) = error("https://example.com/download?id=3#egg=thing\n");
        assert!(hint.starts_with("name the package: `thing @ "), "{hint}");
    }

    // --- Credentials --------------------------------------------------------------------------

    #[test]
    fn errors_never_contain_url_credentials() {
        for line in [
            "https://user:s3cret@example.com/pkg-1.0.tar.gz",
            "pkg @ git+https://user:s3cret@github.com/org/repo",
            "pkg @ https://user:s3cret@example.com/simple/",
            "--index-url https://user:s3cret@[not-a-host/simple",
            "-e git+https://user:s3cret@github.com/org/repo#egg=repo",
            "pkg @ https://user:s3cret@example.com/pkg.whl --frob",
            "pkg @ https://user:s3cret@example.com/pkg-1.0.tar.gz --hash=sha256:00 extra",
            "--only-binary https://user:s3cret@example.com/x",
        ] {
            let (message, hint) = error(&format!("{line}\n"));
            assert!(!message.contains("s3cret"), "{line}: {message}");
            assert!(!hint.contains("s3cret"), "{line}: {hint}");
        }
    }

    #[test]
    fn env_var_credentials_are_redacted_too() {
        let env = env_of(&[("TOKEN", "s3cret")]);
        let tree = Tree::new(&[(
            "requirements.txt",
            "pkg @ git+https://u:${TOKEN}@host/repo\n",
        )]);
        let err = tree.parse("requirements.txt", &env).unwrap_err();
        let (message, _) = split(&tree, err);
        assert!(message.contains("git+https://host/repo"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn shown_redacts_urls_inside_text() {
        assert_eq!(
            redact::text("a --index-url=https://u:p@h.example/simple b"),
            "a --index-url=https://h.example/simple b"
        );
        assert_eq!(redact::text("x@https://u:p@h/y.whl;"), "x@https://h/y.whl;");
        assert_eq!(redact::text("no urls here"), "no urls here");
        // Unparseable URLs lose their user info by hand.
        assert_eq!(redact::text("https://u:p@[bad/x"), "https://[bad/x");
        // A credential-free URL keeps its spelling.
        assert_eq!(
            redact::text("https://h.example/simple"),
            "https://h.example/simple"
        );
    }

    // --- environment.yml `pip:` lines ---------------------------------------------------------

    fn at(file: &Path, line: usize, column: usize) -> Location {
        Location {
            file: file.to_path_buf(),
            line,
            column,
        }
    }

    #[test]
    fn pip_section_lines_keep_their_locations_and_resolve_includes() {
        let tree = Tree::new(&[
            ("envs/reqs/base.txt", "numpy\n"),
            ("envs/c.txt", "numpy<3\n"),
        ]);
        let yml = tree.path("envs/environment.yml");
        let lines = vec![
            ("flask==3.0.0".to_string(), at(&yml, 12, 7)),
            ("-r reqs/base.txt".to_string(), at(&yml, 13, 7)),
            ("--constraint c.txt".to_string(), at(&yml, 14, 7)),
            ("--extra-index-url ${EXTRA}".to_string(), at(&yml, 15, 7)),
            ("requests  # comment".to_string(), at(&yml, 16, 7)),
        ];
        let env = env_of(&[("EXTRA", "https://extra.example/simple")]);
        let mut spec = PipInputs::default();
        spec.add_lines(&lines, &tree.path("envs"), &env).unwrap();
        assert_eq!(
            names(&spec.requirements),
            ["flask==3.0.0", "numpy", "requests"]
        );
        assert_eq!(names(&spec.constraints), ["numpy<3"]);
        assert_eq!(spec.requirements[0].location, at(&yml, 12, 7));
        assert_eq!(spec.requirements[2].location, at(&yml, 16, 7));
        assert_eq!(
            spec.requirements[1].location.file,
            tree.path("envs/reqs/base.txt")
        );
        assert_eq!(
            spec.files,
            [tree.path("envs/reqs/base.txt"), tree.path("envs/c.txt")]
        );
        assert_eq!(
            spec.options.extra_index_urls[0].as_str(),
            "https://extra.example/simple"
        );
    }

    #[test]
    fn pip_section_errors_name_the_yaml_location() {
        let yml = PathBuf::from("environment.yml");
        let lines = vec![
            ("flask".to_string(), at(&yml, 10, 5)),
            ("-e .".to_string(), at(&yml, 11, 7)),
        ];
        let err = PipInputs::default()
            .add_lines(&lines, Path::new("."), &no_env)
            .unwrap_err();
        let failure = err.downcast_ref::<Failure>().unwrap();
        assert!(
            failure
                .message
                .starts_with("environment.yml:11:7: `-e .` is an editable install"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn pip_section_missing_include_names_the_yaml_line() {
        let dir = tempfile::tempdir().unwrap();
        let yml = dir.path().join("environment.yml");
        let lines = vec![("-r missing.txt".to_string(), at(&yml, 9, 7))];
        let err = PipInputs::default()
            .add_lines(&lines, dir.path(), &no_env)
            .unwrap_err();
        let failure = err.downcast_ref::<Failure>().unwrap();
        assert!(
            failure.message.starts_with(&format!(
                "{}:9:7: `-r missing.txt`: cannot read",
                yml.display()
            )),
            "{}",
            failure.message
        );
    }

    #[test]
    fn add_file_and_add_lines_accumulate() {
        let tree = Tree::new(&[("requirements.txt", "--pre\nflask\n")]);
        let mut spec = PipInputs::default();
        spec.add_file(&tree.path("requirements.txt"), &no_env)
            .unwrap();
        let lines = vec![("numpy".to_string(), at(Path::new("environment.yml"), 3, 5))];
        spec.add_lines(&lines, tree.dir.path(), &no_env).unwrap();
        assert_eq!(names(&spec.requirements), ["flask", "numpy"]);
        assert!(spec.options.pre);
        assert_eq!(spec.files, [tree.path("requirements.txt")]);
    }

    // --- Pieces of pip's line handling --------------------------------------------------------

    #[test]
    fn break_args_options_splits_on_first_dash_token() {
        assert_eq!(
            break_args_options("foo >= 1 ; python_version < \"3\" --hash=x"),
            (
                "foo >= 1 ; python_version < \"3\"".to_string(),
                "--hash=x".to_string()
            )
        );
        assert_eq!(
            break_args_options("-r a.txt"),
            (String::new(), "-r a.txt".to_string())
        );
        assert_eq!(
            break_args_options("foo"),
            ("foo".to_string(), String::new())
        );
    }
}
