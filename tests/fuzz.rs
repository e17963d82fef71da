//! Mutation fuzzing of the input parsers, in-process and without extra crates: seeds of real
//! shape (an environment.yml, a requirements file with an include, a lockfile) are mutated by a
//! seeded xorshift generator (byte flips, token insertions, cuts), and every parser must return
//! (an error is fine) instead of panicking. `ENVLOCK_FUZZ_CASES` sets the cases per parser
//! (default 2,000, so CI time stays bounded); `ENVLOCK_FUZZ_SEED` replays a run.

use std::panic::{AssertUnwindSafe, catch_unwind};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ":",
    "- ",
    "\n",
    "  ",
    "#",
    "\"",
    "'",
    "==",
    ">=",
    "<",
    "!=",
    "~=",
    "=",
    "*",
    "@",
    ";",
    ",",
    "-",
    "_",
    ".",
    "[x-]",
    "six- ==1",
    "pip:",
    "-r ",
    "-c ",
    "--index-url ",
    "http://u:p@[::1",
    "${VAR}",
    "\\\n",
    "\u{feff}",
    "\0",
    "\u{ff}",
    "python_version<'3'",
    "&a",
    "*a",
    "!!str",
    "---",
    "...",
    "|",
    ">",
    "?",
    "%",
    "\t",
    "\r",
];

fn cases() -> usize {
    std::env::var("ENVLOCK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

fn seed() -> u64 {
    std::env::var("ENVLOCK_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
}

fn mutate(rng: &mut Rng, seed: &str) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(4) {
            0 if !bytes.is_empty() => {
                let i = at.min(bytes.len() - 1);
                bytes[i] ^= 1 << rng.below(8);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                bytes.splice(at..at, token.bytes());
            }
            2 if !bytes.is_empty() => {
                let end = (at + rng.below(16)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())].repeat(1 + rng.below(4));
                bytes.splice(at..at, token.bytes());
            }
        }
    }
    bytes
}

/// Runs `parse` on `cases()` mutations of `seed`, failing with the input on a panic.
fn fuzz(name: &str, seed_text: &str, mut parse: impl FnMut(&[u8])) {
    let mut rng = Rng(seed() ^ name.len() as u64);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for case in 0..cases() {
        let input = mutate(&mut rng, seed_text);
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| parse(&input))) {
            std::panic::set_hook(hook);
            let why = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("");
            panic!(
                "{name}: case {case} panicked on {:?}: {why}",
                String::from_utf8_lossy(&input)
            );
        }
    }
    std::panic::set_hook(hook);
}

/// Where an error about the input file `path` (one whose message names it) must say where:
/// `path:line:column`, with the line within the file's lines.
fn assert_located(name: &str, input: &[u8], path: &std::path::Path, error: &anyhow::Error) {
    let message = format!("{error:#}");
    let shown = path.display().to_string();
    if !message.contains(&shown) {
        return;
    }
    // Requirements files break lines as Python's `str.splitlines` (a lone `\r`, `\x0c`, …
    // too, as pip reads them); YAML and TOML at `\n`: the larger count bounds both.
    let text = String::from_utf8_lossy(input);
    let mut breaks = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if matches!(
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
        ) {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            breaks += 1;
        }
    }
    let lines = breaks.max(input.iter().filter(|&&b| b == b'\n').count()) + 1;
    let places: Vec<(usize, usize)> = message
        .match_indices(&format!("{shown}:"))
        .filter_map(|(at, m)| {
            let rest = &message[at + m.len()..];
            let (line, rest) = rest.split_once(':')?;
            let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
            Some((line.parse().ok()?, column.parse().ok()?))
        })
        .collect();
    assert!(
        !places.is_empty(),
        "{name}: an error about the file names no file:line:column:\n{message}\ninput: {:?}",
        String::from_utf8_lossy(input)
    );
    for (line, column) in places {
        assert!(
            (1..=lines).contains(&line) && column >= 1,
            "{name}: {line}:{column} is outside the file's {lines} lines:\n{message}\ninput: {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

const ENVIRONMENT: &str = "name: app\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - numpy>=1.26,<2\n  - pip\n  - pip:\n    - flask==3.0.3\n    - six[x]>=1 ; python_version >= '3'\nplatforms: [linux-64]\n";

#[test]
fn environment_yml_never_panics() {
    fuzz("environment.yml", ENVIRONMENT, |bytes| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("environment.yml");
        std::fs::write(&path, bytes).unwrap();
        if let Err(e) = envlock::inputs::Inputs::load(std::slice::from_ref(&path)) {
            assert_located("environment.yml", bytes, &path, &e);
        }
    });
}

#[test]
fn requirements_files_with_includes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.txt"), "six>=1.16\n").unwrap();
    let seed_text = "-r base.txt\n--index-url https://pypi.org/simple\nflask[async]==3.0.3 \\\n  ; python_version >= '3.8'\nrequests>=2 --hash=sha256:00ff\n# comment\n-c base.txt\n";
    fuzz("requirements.txt", seed_text, |bytes| {
        let path = dir.path().join("requirements.txt");
        std::fs::write(&path, bytes).unwrap();
        if let Err(e) = envlock::inputs::Inputs::load(std::slice::from_ref(&path)) {
            assert_located("requirements.txt", bytes, &path, &e);
        }
    });
}

#[test]
fn pyproject_files_with_extras_and_groups_never_panic() {
    let seed_text = "[project]\nname = \"demo-app\"\nversion = \"1.0\"\nrequires-python = \">=3.10\"\ndependencies = [\"requests>=2\", \"click; python_version >= '3.8'\"]\ndynamic = []\n\n[project.optional-dependencies]\nfast = [\"ujson\"]\nall = [\"demo-app[fast]\"]\n\n[dependency-groups]\ntest = [\"pytest\", {include-group = \"lint\"}]\nlint = [\"ruff\"]\n";
    let dir = tempfile::tempdir().unwrap();
    let selection = envlock::inputs::Selection {
        extras: vec!["all".into()],
        all_extras: false,
        groups: vec!["test".into()],
    };
    fuzz("pyproject.toml", seed_text, |bytes| {
        let path = dir.path().join("pyproject.toml");
        std::fs::write(&path, bytes).unwrap();
        if let Err(e) = envlock::inputs::Inputs::load_with(std::slice::from_ref(&path), &selection)
        {
            assert_located("pyproject.toml", bytes, &path, &e);
        }
        if let Err(e) = envlock::inputs::Inputs::load(std::slice::from_ref(&path)) {
            assert_located("pyproject.toml", bytes, &path, &e);
        }
    });
}

#[test]
fn lockfiles_never_panic() {
    let seed_text = "version: 1\nmetadata:\n  content_hash:\n    linux-64: abc\n  channels:\n  - url: conda-forge\n    used_env_vars: []\n  platforms:\n  - linux-64\n  sources:\n  - environment.yml\n  custom_metadata:\n    envlock.version: '1'\npackage:\n- name: six\n  version: 1.16.0\n  manager: conda\n  platform: linux-64\n  dependencies: {}\n  url: https://conda.anaconda.org/conda-forge/noarch/six-1.16.0-pyh6c4a22f_0.tar.bz2\n  hash:\n    md5: 00ff\n    sha256: 00ff\n  category: main\n  optional: false\n";
    let dir = tempfile::tempdir().unwrap();
    fuzz("conda-lock.yml", seed_text, |bytes| {
        let path = dir.path().join("conda-lock.yml");
        std::fs::write(&path, bytes).unwrap();
        match envlock::lock::read(&path) {
            Ok(lock) => {
                let _ = envlock::lock::EnvlockMeta::read(&lock);
            }
            Err(e) => assert_located("conda-lock.yml", bytes, &path, &e),
        }
    });
}

#[test]
fn option_values_never_panic() {
    let digest = format!("python:3.12-slim@sha256:{}", "a".repeat(64));
    type Parser = fn(&str);
    let values: [(&str, &str, Parser); 3] = [
        ("--virtual-package", "__glibc=2.28=0", |s| {
            let _ = envlock::inputs::target::parse_virtual_package(s);
        }),
        ("--exclude-newer", "2024-05-01T23:59:59Z", |s| {
            let _ = envlock::inputs::target::parse_exclude_newer(s);
        }),
        ("--base", "", |s| {
            let _ = envlock::net::oci::ImageRef::parse(s);
        }),
    ];
    for (flag, seed_text, parse) in values {
        let seed_text = if flag == "--base" {
            digest.as_str()
        } else {
            seed_text
        };
        fuzz(flag, seed_text, |bytes| {
            parse(&String::from_utf8_lossy(bytes))
        });
    }
}

/// The fast lock reader (`lock::canonical`, no spans) may accept only what the spanned reader
/// (`rattler_conda_lock::Document`) reads, and must then give the same lock; on everything else
/// it steps aside, so errors keep their line and column. Mutations of a lock envlock wrote,
/// some of which stay canonical and valid (a changed hash digit, a version).
#[test]
fn the_fast_lock_reader_agrees_with_the_spanned_one() {
    let seed_text = include_str!("data/old-lock/project/conda-lock.yml");
    let spanned = |text: &str| {
        rattler_conda_lock::Document::parse(text).map(rattler_conda_lock::Document::into_lock_file)
    };
    assert_eq!(
        envlock::lock::canonical::read(seed_text),
        Some(spanned(seed_text).unwrap()),
        "the seed is a lock envlock wrote: the fast path reads it"
    );
    let mut accepted = 0;
    fuzz("fast lock reader", seed_text, |bytes| {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return;
        };
        if let Some(fast) = envlock::lock::canonical::read(text) {
            accepted += 1;
            assert_eq!(spanned(text).ok(), Some(fast), "{text}");
        }
    });
    assert!(
        accepted > 0,
        "no mutation stayed canonical: the comparison tested nothing"
    );
}

/// `--mirror` and `--channel` values (and a channel URL in environment.yml), through
/// `inputs::prepare` as `resolve` runs it: no panic, and the password of the seed's URLs never
/// appears in an error while the value still holds it as `:s3cret@`.
#[test]
fn mirror_and_channel_values_never_panic_nor_echo_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("environment.yml");
    std::fs::write(&env, "channels: [conda-forge]\ndependencies: [python]\n").unwrap();
    let options = |channels: Vec<String>, mirrors: Vec<String>| envlock::inputs::InputOptions {
        files: vec![env.clone()],
        lockfile: Some(dir.path().join("conda-lock.yml")),
        platforms: Vec::new(),
        channels,
        channel_alias: None,
        mirrors,
        virtual_packages: Vec::new(),
        exclude_newer: None,
        python: None,
        index_url: None,
        extra_index_urls: Vec::new(),
        index_strategy: None,
        pypi_mapping: None,
        selection: Default::default(),
        init: None,
    };
    let no_password =
        |what: &str, value: &str, result: anyhow::Result<envlock::inputs::Prepared>| {
            // The password as user info (`:s3cret@`) must not show; where a mutation cut the `@`
            // that makes one a password, `s3cret` is text like any other.
            if let Err(e) = result {
                let message = format!("{e:#}");
                let all_user_info =
                    value.matches("s3cret").count() == value.matches(":s3cret@").count();
                let shown = if all_user_info {
                    message.contains("s3cret")
                } else {
                    message.contains("s3cret@")
                };
                assert!(
                    !shown,
                    "{what} {value:?}: the password is in the error:\n{message}"
                );
            }
        };
    let mirror = "https://alice:s3cret@conda.example.com/t/tk-1/conda-forge=https://bob:s3cret@mirror.example.com/conda-forge";
    fuzz("--mirror", mirror, |bytes| {
        let value = String::from_utf8_lossy(bytes).into_owned();
        let result = envlock::inputs::prepare(&options(Vec::new(), vec![value.clone()]));
        no_password("--mirror", &value, result);
    });
    let channel =
        "https://alice:s3cret@conda.example.com/t/tk-1/conda-forge/label/main?token=s3cret";
    fuzz("--channel", channel, |bytes| {
        let value = String::from_utf8_lossy(bytes).into_owned();
        let result = envlock::inputs::prepare(&options(vec![value.clone()], Vec::new()));
        no_password("--channel", &value, result);
    });
    let yml_dir = tempfile::tempdir().unwrap();
    let seed_text = format!("channels:\n  - {channel}\n  - conda-forge\ndependencies: [python]\n");
    fuzz("environment.yml channels", &seed_text, |bytes| {
        let path = yml_dir.path().join("environment.yml");
        std::fs::write(&path, bytes).unwrap();
        let mut request = options(Vec::new(), Vec::new());
        request.files = vec![path];
        let value = String::from_utf8_lossy(bytes).into_owned();
        no_password(
            "environment.yml",
            &value,
            envlock::inputs::prepare(&request),
        );
    });
}
