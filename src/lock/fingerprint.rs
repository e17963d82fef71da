//! The two fingerprints that decide whether a lock still answers its question, computed over
//! typed records with `serde_json` and no `Debug` formatting, so that a dependency's `Debug`
//! output can never change them:
//!
//! - [`options_fingerprint`] (`envlock.options_sha256`): the resolution options; a re-resolve
//!   keeps the lock's pins only while it matches.
//! - [`input_hash`] (`metadata.content_hash`, per platform): everything that decides one
//!   platform's solve.
//!
//! Both are a frozen format: locks written by earlier envlock versions carry them, and a changed
//! byte would drop every pin and fail every `envlock check`. The records' fields are therefore
//! declared in the order the earlier `serde_json::json!` maps wrote them (sorted by name), and
//! pip's `--only-binary`/`--no-binary` choice is spelled by [`binary_choice`] exactly as the
//! earlier `Debug` output did. `tests` compares them with that earlier code.

use serde::Serialize;

use super::LockInputs;
use crate::{
    inputs::{
        Prepared,
        requirements::BinaryChoice,
        target::{LEGACY_GLIBC, table},
    },
    util::redact,
};

/// What [`options_fingerprint`] hashes. Fields in name order (see the module docs).
#[derive(Serialize)]
struct OptionsRecord<'a> {
    alias: String,
    channels: &'a [String],
    exclude_newer: Option<String>,
    /// `--index-strategy`, only when not the default and there are pip requirements (as the
    /// lock records it): absent, the record hashes as before the option existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    index_strategy: Option<&'static str>,
    indexes: Vec<String>,
    /// `--pre`, `--prefer-binary`, `--only-binary`, `--no-binary`, all as strings.
    pip: [String; 4],
    virtual_packages: Vec<String>,
}

/// What [`input_hash`] hashes for one platform. Fields in name order (see the module docs).
#[derive(Serialize)]
struct InputRecord<'a> {
    channel_alias: String,
    channels: &'a [String],
    exclude_newer: Option<String>,
    /// As in [`OptionsRecord`].
    #[serde(skip_serializing_if = "Option::is_none")]
    index_strategy: Option<&'static str>,
    indexes: &'a [String],
    pip: Vec<String>,
    pip_constraints: Vec<String>,
    /// `--pre`, `--prefer-binary`, and `<only-binary>/<no-binary>`.
    pip_options: (bool, bool, String),
    platform: &'a str,
    specs: Vec<String>,
    virtual_packages: &'a [String],
}

/// pip's binary choice as the fingerprints spell it: `None`, `All`, or
/// `Packages({PackageName("a"), PackageName("b")})` with the names normalized and sorted.
///
/// Frozen format: this is what `format!("{:?}", choice)` printed when the fingerprints were
/// introduced, written out by hand so that no `Debug` implementation (ours or pep508_rs's
/// `PackageName`) can change it. Normalized names are `[a-z0-9-]`, so nothing needs escaping.
fn binary_choice(choice: &BinaryChoice) -> String {
    match choice {
        BinaryChoice::None => "None".to_string(),
        BinaryChoice::All => "All".to_string(),
        BinaryChoice::Packages(names) => {
            let names: Vec<String> = names
                .iter()
                .map(|n| format!("PackageName(\"{n}\")"))
                .collect();
            format!("Packages({{{}}})", names.join(", "))
        }
    }
}

fn sha256_of(record: &impl Serialize) -> String {
    let json = serde_json::to_string(record).expect("a record of strings and bools serializes");
    hex::encode(rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(json.as_bytes()))
}

/// The virtual packages as [`options_fingerprint`] spells them: the `--virtual-package`
/// overrides of the table as it was when the fingerprint was introduced (with
/// [`LEGACY_GLIBC`]), i.e. every entry of a platform's set that this table lacks, over all
/// platforms, sorted. So the table's move to a newer glibc leaves old locks' fingerprints alone,
/// and a lock made with today's default equals one made then with `--virtual-package
/// __glibc=2.28`.
fn fingerprinted_virtual_packages(prepared: &Prepared) -> Vec<String> {
    let mut list: Vec<String> = prepared
        .virtual_packages
        .iter()
        .flat_map(|(platform, set)| {
            let legacy = table(*platform, LEGACY_GLIBC, &[]);
            set.iter()
                .filter(move |v| !legacy.contains(v))
                .map(|v| v.to_string())
        })
        .collect();
    list.sort();
    list.dedup();
    list
}

/// A fingerprint of the resolution options (channels, alias, indexes and strategy, cutoff, pip options,
/// virtual packages): a re-resolve keeps the lock's pins only when it matches. The strategy counts
/// only with pip requirements, as the lock records it only then.
pub fn options_fingerprint(prepared: &Prepared) -> String {
    let channels = super::recorded_channels(&prepared.inputs);
    let virtual_packages = fingerprinted_virtual_packages(prepared);
    let o = &prepared.inputs.pypi.options;
    sha256_of(&OptionsRecord {
        alias: redact::url(&prepared.settings.alias).to_string(),
        channels: &channels,
        exclude_newer: prepared.exclude_newer.map(|t| t.to_string()),
        index_strategy: prepared
            .index_strategy
            .recorded()
            .filter(|_| !prepared.inputs.pypi.requirements.is_empty()),
        indexes: prepared
            .indexes
            .iter()
            .map(|u| redact::url(u).to_string())
            .collect(),
        pip: [
            o.pre.to_string(),
            o.prefer_binary.to_string(),
            binary_choice(&o.only_binary),
            binary_choice(&o.no_binary),
        ],
        virtual_packages,
    })
}

/// The sha256 of everything that decides the solve for one platform (the lock's
/// `metadata.content_hash`): channels, specs, pip lines and options, indexes, virtual packages,
/// cutoff.
pub fn input_hash(
    inputs: &LockInputs<'_>,
    channels: &[String],
    indexes: &[String],
    platform: &str,
    virtual_packages: &[String],
) -> String {
    let mut specs: Vec<String> = inputs
        .spec
        .conda
        .iter()
        .map(|d| d.spec.to_string())
        .collect();
    // The init envlock added is part of this platform's solve.
    if super::InitRecord::added_to(inputs.init, platform) {
        specs.push(super::meta::INIT_PACKAGE.to_string());
    }
    specs.sort();
    let pip = &inputs.spec.pypi;
    let lines = |list: &[crate::inputs::requirements::PipRequirement]| -> Vec<String> {
        list.iter().map(|r| r.requirement.to_string()).collect()
    };
    sha256_of(&InputRecord {
        channel_alias: redact::url(inputs.channel_alias).to_string(),
        channels,
        exclude_newer: inputs.exclude_newer.map(|t| t.to_string()),
        index_strategy: inputs
            .index_strategy
            .recorded()
            .filter(|_| !pip.requirements.is_empty()),
        indexes,
        pip: lines(&pip.requirements),
        pip_constraints: lines(&pip.constraints),
        pip_options: (
            pip.options.pre,
            pip.options.prefer_binary,
            format!(
                "{}/{}",
                binary_choice(&pip.options.only_binary),
                binary_choice(&pip.options.no_binary)
            ),
        ),
        platform,
        specs,
        virtual_packages,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rattler_conda_types::GenericVirtualPackage;

    use super::*;
    use crate::inputs::{InputOptions, prepare};

    /// `options_fingerprint` as envlock 0.1.0 (commit 3197176) computed it, from the
    /// `--virtual-package` overrides it was given.
    fn legacy_options_fingerprint(
        prepared: &Prepared,
        overrides: &[GenericVirtualPackage],
    ) -> String {
        let spec = &prepared.inputs;
        let channels = crate::lock::recorded_channels(spec);
        let indexes: Vec<String> = prepared
            .indexes
            .iter()
            .map(|u| redact::url(u).to_string())
            .collect();
        let mut virtual_packages: Vec<String> = overrides.iter().map(|v| v.to_string()).collect();
        virtual_packages.sort();
        let o = &spec.pypi.options;
        let value = serde_json::json!({
            "channels": channels,
            "alias": redact::url(&prepared.settings.alias).to_string(),
            "indexes": indexes,
            "exclude_newer": prepared.exclude_newer.map(|t| t.to_string()),
            "pip": [o.pre.to_string(), o.prefer_binary.to_string(), format!("{:?}", o.only_binary), format!("{:?}", o.no_binary)],
            "virtual_packages": virtual_packages,
        });
        hex::encode(
            rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(
                value.to_string().as_bytes(),
            ),
        )
    }

    /// `input_hash` as envlock 0.1.0 (commit 3197176) computed it.
    fn legacy_input_hash(
        inputs: &LockInputs<'_>,
        channels: &[String],
        indexes: &[String],
        platform: &str,
        virtual_packages: &[String],
    ) -> String {
        let mut specs: Vec<String> = inputs
            .spec
            .conda
            .iter()
            .map(|d| d.spec.to_string())
            .collect();
        specs.sort();
        let pip = &inputs.spec.pypi;
        let requirements: Vec<String> = pip
            .requirements
            .iter()
            .map(|r| r.requirement.to_string())
            .collect();
        let constraints: Vec<String> = pip
            .constraints
            .iter()
            .map(|r| r.requirement.to_string())
            .collect();
        let value = serde_json::json!({
            "channels": channels,
            "channel_alias": redact::url(inputs.channel_alias).to_string(),
            "specs": specs,
            "pip": requirements,
            "pip_constraints": constraints,
            "pip_options": [pip.options.pre, pip.options.prefer_binary, format!("{:?}/{:?}", pip.options.only_binary, pip.options.no_binary)],
            "indexes": indexes,
            "platform": platform,
            "virtual_packages": virtual_packages,
            "exclude_newer": inputs.exclude_newer.map(|t| t.to_string()),
        });
        hex::encode(
            rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(
                value.to_string().as_bytes(),
            ),
        )
    }

    fn prepared(
        dir: &Path,
        environment: &str,
        requirements: &str,
        options: InputOptions,
    ) -> Prepared {
        std::fs::write(dir.join("environment.yml"), environment).unwrap();
        let mut files = vec![dir.join("environment.yml")];
        if !requirements.is_empty() {
            std::fs::write(dir.join("requirements.txt"), requirements).unwrap();
            std::fs::write(dir.join("constraints.txt"), "helper<3\nfastdep==1.*\n").unwrap();
            files.push(dir.join("requirements.txt"));
        }
        prepare(&InputOptions { files, ..options }).unwrap()
    }

    #[test]
    fn fingerprints_are_the_bytes_earlier_envlock_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let env = "channels:\n  - conda-forge\n  - https://user:secret@conda.example/private\ndependencies:\n  - python=3.11\n  - numpy >=1.26\n";
        let with_pip = |lines: &str| format!("{env}  - pip\n  - pip:\n{lines}");
        let cutoff = Some("2024-05-01T00:00:00Z".parse().unwrap());
        let cases: Vec<(String, &str, InputOptions)> = vec![
            (env.to_string(), "", InputOptions::default()),
            (
                with_pip("    - --pre\n    - --only-binary webapp,helper\n    - webapp[fast]\n"),
                "",
                InputOptions::default(),
            ),
            (
                with_pip("    - webapp\n"),
                "--only-binary :all:\n--no-binary Helper_Two\n--prefer-binary\n-c constraints.txt\nhelper-two>=1; python_version > '3'\n",
                InputOptions {
                    exclude_newer: cutoff,
                    extra_index_urls: vec!["https://u:p@pypi.example/simple/".parse().unwrap()],
                    virtual_packages: vec![
                        crate::inputs::target::parse_virtual_package("__glibc=2.28").unwrap(),
                        crate::inputs::target::parse_virtual_package("__cuda=12.4").unwrap(),
                    ],
                    ..InputOptions::default()
                },
            ),
            (
                with_pip("    - webapp\n"),
                "--no-binary :all:\n--only-binary zeta,alpha.beta\nhelper\n",
                InputOptions {
                    index_url: Some("http://127.0.0.1:8080/simple/".parse().unwrap()),
                    channel_alias: Some("http://127.0.0.1:9090/".parse().unwrap()),
                    platforms: vec!["linux-64".parse().unwrap(), "osx-arm64".parse().unwrap()],
                    ..InputOptions::default()
                },
            ),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (environment, requirements, options) in cases {
            let overrides = options.virtual_packages.clone();
            let mut prepared = prepared(dir.path(), &environment, requirements, options);
            // The sets envlock 0.1.0 solved for: its table had __glibc=2.17.
            for (platform, set) in &mut prepared.virtual_packages {
                *set = table(*platform, LEGACY_GLIBC, &overrides);
            }
            let o = &prepared.inputs.pypi.options;
            for choice in [&o.only_binary, &o.no_binary] {
                seen.insert(binary_choice(choice).split('(').next().unwrap().to_string());
            }
            seen.insert(format!("pre={} prefer={}", o.pre, o.prefer_binary));
            assert_eq!(
                options_fingerprint(&prepared),
                legacy_options_fingerprint(&prepared, &overrides),
                "{environment}{requirements}"
            );
            let channels = crate::lock::recorded_channels(&prepared.inputs);
            let indexes: Vec<String> = prepared
                .indexes
                .iter()
                .map(|u| redact::url(u).to_string())
                .collect();
            let lockfile = dir.path().join("conda-lock.yml");
            let inputs = LockInputs {
                spec: &prepared.inputs,
                channel_alias: &prepared.settings.alias,
                exclude_newer: prepared.exclude_newer,
                lockfile: &lockfile,
                indexes: &prepared.indexes,
                index_strategy: prepared.index_strategy,
                options_fingerprint: String::new(),
                docker: None,
                build_sets: &[],
                init: None,
            };
            let vps = ["__glibc=2.17=0".to_string(), "__unix=0=0".to_string()];
            for platform in ["linux-64", "osx-arm64"] {
                assert_eq!(
                    input_hash(&inputs, &channels, &indexes, platform, &vps),
                    legacy_input_hash(&inputs, &channels, &indexes, platform, &vps),
                    "{environment}{requirements}"
                );
            }
        }
        // The cases cover every choice and both flags.
        for wanted in [
            "None",
            "All",
            "Packages",
            "pre=true prefer=false",
            "pre=false prefer=true",
        ] {
            assert!(seen.contains(wanted), "{wanted} not covered: {seen:?}");
        }
    }

    #[test]
    fn binary_choices_are_spelled_as_before() {
        let names = |list: &[&str]| {
            BinaryChoice::Packages(list.iter().map(|n| n.parse().unwrap()).collect())
        };
        for choice in [
            BinaryChoice::None,
            BinaryChoice::All,
            names(&[]),
            names(&["b", "A_1", "c.d"]),
        ] {
            assert_eq!(binary_choice(&choice), format!("{choice:?}"));
        }
        assert_eq!(
            binary_choice(&names(&["b", "a"])),
            r#"Packages({PackageName("a"), PackageName("b")})"#
        );
    }
}
