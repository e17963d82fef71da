//! Options on requirements-file lines: pip's optparse (long, short, abbreviated), the
//! global options of a line of their own (indexes, `--pre`, `--only-binary`/`--no-binary`),
//! and the per-requirement `--hash` and `--config-settings`.

use std::{path::Path, str::FromStr};

use pep508_rs::PackageName;
use url::Url;

use super::{BinaryChoice, Parser, failure};
use crate::{inputs::Location, util::redact};

impl Parser<'_> {
    /// A line without a requirement: global options, or one `-r`/`-c` include.
    pub(super) fn option_line(
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
pub(super) enum Kind {
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
    pub(super) fn name(self) -> &'static str {
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
pub(super) struct Given {
    pub(super) kind: Kind,
    pub(super) value: Option<String>,
}

/// optparse over the shell-split options: returns the options in order and the leftover words.
pub(super) fn parse_options(
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

/// Options of `pip install`'s command line that pip does not take in a requirements file
/// (pip answers `no such option`), each with what it would mean for a lock.
const INSTALL_ONLY: &[(&str, &str)] = &[
    (
        "--no-deps",
        "remove it: a lock holds each requirement together with its dependencies, so the image \
         installs exactly what was locked; to pin or limit a dependency, list it with a version \
         (`name==1.2`) or put it in a `-c` constraints file",
    ),
    (
        "--upgrade",
        "remove it: a lock always takes the newest versions that fit, and `envlock resolve \
         --update NAME` re-resolves one package",
    ),
    (
        "-U",
        "remove it: a lock always takes the newest versions that fit, and `envlock resolve \
         --update NAME` re-resolves one package",
    ),
    (
        "--force-reinstall",
        "remove it: the image installs into a fresh environment",
    ),
    (
        "--user",
        "remove it: the image installs into the conda environment",
    ),
    (
        "--no-cache-dir",
        "remove it: the rendered Dockerfile decides pip's cache",
    ),
];

fn unknown_option(option: &str, location: &Location) -> anyhow::Error {
    if let Some((name, hint)) = INSTALL_ONLY.iter().find(|(name, _)| *name == option) {
        return failure(
            location,
            format!(
                "`{name}` is an option of the `pip install` command line; pip does not take it \
                 in a requirements file"
            ),
            *hint,
        );
    }
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

pub(super) fn reject_global_option(location: &Location) -> anyhow::Error {
    failure(
        location,
        "`--global-option` passes options to `setup.py` builds, which envlock does not run",
        "remove it; if a package needs special build flags, build a wheel and publish it to an \
         index",
    )
}

/// pip's `--hash` check, plus a check of the digest itself.
pub(super) fn parse_hash(option: &Given, location: &Location) -> anyhow::Result<String> {
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

pub(super) fn check_config_settings(option: &Given, location: &Location) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::inputs::requirements::{BinaryChoice, PipOptions, testing::*};

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
        let (message, _) = error("flask --frob\n");
        assert!(message.contains("unknown option `--frob`"), "{message}");
    }

    #[test]
    fn pip_install_options_say_where_they_belong() {
        let (message, hint) = error("flask\n--no-deps\n");
        assert_eq!(
            message,
            "requirements.txt:2:1: `--no-deps` is an option of the `pip install` command line; \
             pip does not take it in a requirements file"
        );
        assert!(hint.contains("-c` constraints file"), "{hint}");
        let (message, hint) = error("flask --upgrade\n");
        assert!(
            message.contains("`--upgrade` is an option of the `pip install`"),
            "{message}"
        );
        assert!(hint.contains("--update NAME"), "{hint}");
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
}
