//! Command-line interface: flags → library requests, and outcomes → messages. No logic lives
//! here; [`progress`] draws what the library reports.

mod progress;

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, sync::Arc, time::Instant};

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use console::style;
use envlock::{
    check,
    commands::{
        dockerfile::{DockerfileFlags, Rendered},
        resolve::{self, Checked, ResolveRequest},
    },
    inputs::{
        self, IndexStrategy, InputOptions,
        target::{parse_exclude_newer, parse_virtual_package},
    },
    lock::Update,
    render::{
        ExplicitHash,
        dockerfile::{Entrypoint, Flavor, Preset, Runtime},
    },
    util::error::Failure,
};
use rattler_conda_types::Subdir;
use url::Url;

#[derive(Parser)]
#[command(
    name = "envlock",
    version,
    about = "Lock conda and PyPI environments and ship them in reproducible Docker images",
    after_help = "Examples:\n  envlock resolve                          lock ./environment.yml into ./conda-lock.yml\n  envlock resolve env.yml -p linux-64      lock for one platform only\n  envlock resolve --exclude-newer 2024-05-01\n\nExit codes: 0 success, 1 drift found, 2 error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Print more detail (the locked packages).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    verbose: u8,

    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,

    /// When to use colors.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Solve environment.yml into a pinned, hashed conda-lock.yml for each target platform.
    #[command(
        after_help = "Options not given keep the values the existing lock records (the note says which); `--reset` goes back to the defaults.\n\nExamples:\n  envlock resolve\n  envlock resolve environment.yml -p linux-64 -p osx-arm64\n  envlock resolve --channel-alias https://conda.example.com --exclude-newer 2024-05-01\n  envlock resolve --mirror https://conda.anaconda.org/conda-forge=https://mirror.example.com/conda-forge\n  envlock resolve --virtual-package __cuda=12.4 --virtual-package __glibc=2.31"
    )]
    Resolve(ResolveArgs),

    /// Check, without solving or the network, that the lock satisfies the inputs and that the
    /// Dockerfile and its files match the lock. Exit 0: all agree; 1: drift; 2: error.
    #[command(
        after_help = "Options not given take the values the lock records, so a plain `envlock check` checks the question the lock was made for; a flag that differs from the record is drift.\n\nExamples:\n  envlock check\n  envlock check --format github    # annotations in a GitHub Actions job\n  envlock check environment.yml -p linux-64"
    )]
    Check(CheckArgs),

    /// Show what changed between two lockfiles, per platform: added, removed, upgraded,
    /// downgraded and rebuilt packages. Default: the lockfile at git HEAD vs the working tree.
    #[command(
        after_help = "Examples:\n  envlock diff                          # conda-lock.yml at HEAD vs the working tree\n  envlock diff old.yml new.yml\n  envlock diff --format json"
    )]
    Diff(DiffArgs),

    /// Render a reproducible Dockerfile (and the files it copies) from the lockfile. Never solves.
    #[command(
        after_help = "Examples:\n  envlock dockerfile\n  envlock dockerfile --preset flask\n  envlock dockerfile --preset jupyter --run 'python -m ipykernel install --user'\n  envlock dockerfile --flavor venv --base python:3.12-slim\n  docker buildx build --platform linux/amd64,linux/arm64 -t app ."
    )]
    Dockerfile(DockerfileArgs),
}

/// Options not given keep the values the last run recorded in the lockfile (so a plain
/// `envlock dockerfile` re-renders the same image); `--reset` goes back to the defaults.
#[derive(Args)]
struct DockerfileArgs {
    /// The lockfile to render from.
    #[arg(long, value_name = "PATH", default_value = "conda-lock.yml")]
    lockfile: PathBuf,

    /// Where to write the Dockerfile; the files it copies go beside it [default: Dockerfile].
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,

    /// Directory (beside the Dockerfile) for the explicit, pip and entrypoint files
    /// [default: envlock].
    #[arg(long, value_name = "DIR")]
    dir: Option<String>,

    /// Base image; a tag is pinned to its digest through the registry
    /// [default: the recorded base, else conda-forge's miniforge3 / python:X.Y-slim].
    #[arg(long, value_name = "IMAGE")]
    base: Option<String>,

    /// `conda`: a conda env from the lock; `venv`: pip packages only, on an official python
    /// image [default: conda].
    #[arg(long, value_enum)]
    flavor: Option<Flavor>,

    /// What the image runs: `python app.py`, gunicorn serving app:app, or JupyterLab
    /// [default: python].
    #[arg(long, value_enum)]
    preset: Option<Preset>,

    /// The command to run, overriding the preset: a command line or a JSON array.
    #[arg(long, value_name = "CMD")]
    cmd: Option<String>,

    /// A port to EXPOSE, repeatable, overriding the preset's.
    #[arg(long = "port", value_name = "PORT")]
    ports: Vec<u16>,

    /// A shell command run in the env after the install (e.g. a build step), repeatable.
    #[arg(long = "run", value_name = "CMD")]
    run: Vec<String>,

    /// `tini` forwards signals to the app (the default); `conda-run` uses `conda run`, which
    /// does not.
    #[arg(long, value_enum)]
    entrypoint: Option<Entrypoint>,

    /// The hash the @EXPLICIT files carry: sha256 (conda >= 24.9, micromamba >= 2.1) or md5
    /// [default: sha256].
    #[arg(long, value_enum)]
    explicit_hash: Option<ExplicitHash>,

    /// Keep local projects named with `-e` editable installs in the image (a development
    /// convenience; by default they are installed as regular packages).
    #[arg(long)]
    editable: bool,

    /// `single`: one stage on the base, conda included; `slim` (conda flavor): the env is built
    /// on the base and copied alone onto a slim Debian, without conda [default: single].
    #[arg(long, value_enum)]
    runtime: Option<Runtime>,

    /// The slim runtime's base; a tag is pinned to its digest through the registry
    /// [default: the recorded one, else debian:bookworm-slim].
    #[arg(long, value_name = "IMAGE")]
    runtime_base: Option<String>,

    /// Ignore the options recorded by the last run; use the defaults for what is not given.
    #[arg(long)]
    reset: bool,

    /// Refuse to render from a lock that no longer satisfies the inputs (./environment.yml, else
    /// ./requirements.txt), exiting 1.
    #[arg(long)]
    locked: bool,

    /// Render even when a locked sdist needs a C compiler and the base is one known to have
    /// none (python:X.Y-slim, miniforge).
    #[arg(long)]
    allow_compile: bool,

    /// Where `envlock resolve` cached the archives of git requirements; one it lacks is made
    /// again from its repository [default: the user cache directory].
    #[arg(long, value_name = "DIR", env = "ENVLOCK_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ResolveArgs {
    #[command(flatten)]
    input: InputArgs,

    /// Check the lock first (as `envlock check`), and solve only when it has drifted.
    #[arg(long)]
    check: bool,

    /// Move only these packages (conda or pip) to their newest allowed versions, keeping every
    /// other pin; repeatable.
    #[arg(long = "update", value_name = "NAME", conflicts_with = "update_all")]
    update: Vec<String>,

    /// Solve from scratch, ignoring the pins of the existing lock.
    #[arg(long)]
    update_all: bool,

    /// Ignore the options recorded by the last run; use the defaults for what is not given.
    #[arg(long)]
    reset: bool,

    /// The python that builds sdists whose dependencies are only known after a build
    /// [default: python3.X on PATH for the locked 3.X, else python3].
    #[arg(long, value_name = "PATH")]
    build_python: Option<PathBuf>,

    /// Accept files the existing lock holds under the same name whose sha256 or md5 changed
    /// (republished or tampered artifacts), after verifying them with their publisher.
    #[arg(long)]
    allow_changed_hashes: bool,

    /// Revalidate every cached package-index page and channel repodata. Without it, a resolve
    /// with --exclude-newer uses pages and repodata fetched an hour or more after the cutoff as
    /// they are.
    #[arg(long)]
    refresh: bool,

    /// Use only cached repodata, package-index pages and metadata (as they are, however old);
    /// what the cache lacks is an error naming it.
    #[arg(long, conflicts_with = "refresh")]
    offline: bool,
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    input: InputArgs,

    /// How to print findings: text, json, or github (GitHub Actions annotations).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Also ask each git requirement's remote whether its tag or branch still names the locked
    /// commit (`git ls-remote`): the one check that uses the network.
    #[arg(long)]
    git_refs: bool,
}

#[derive(Args)]
struct DiffArgs {
    /// The old lockfile [default: the lockfile at git HEAD].
    old: Option<PathBuf>,

    /// The new lockfile [default: --lockfile].
    new: Option<PathBuf>,

    /// The lockfile compared with its git HEAD version when OLD is not given.
    #[arg(long, value_name = "PATH", default_value = "conda-lock.yml")]
    lockfile: PathBuf,

    /// text or json.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Github,
}

/// The inputs and the options that decide a lock: shared by `resolve` and `check`.
#[derive(Args)]
struct InputArgs {
    /// Input files: environment.yml, pip requirements files and/or a pyproject.toml.
    /// Default: ./environment.yml, else ./requirements.txt, else ./pyproject.toml.
    files: Vec<PathBuf>,

    /// Where to write the lockfile [default: conda-lock.yml beside the first input].
    #[arg(long, value_name = "PATH")]
    lockfile: Option<PathBuf>,

    /// Target platform, repeatable. Overrides the file's `platforms:`
    /// [default: the recorded platforms, else linux-64 and linux-aarch64].
    #[arg(short, long = "platform", value_name = "PLATFORM", value_parser = parse_platform)]
    platforms: Vec<Subdir>,

    /// Add a channel after the file's channels, repeatable.
    #[arg(short, long = "channel", value_name = "CHANNEL")]
    channels: Vec<String>,

    /// URL that channel names are resolved against, as conda's `channel_alias`
    /// [default: the recorded alias, else https://conda.anaconda.org].
    #[arg(long, value_name = "URL", env = "ENVLOCK_CHANNEL_ALIAS")]
    channel_alias: Option<String>,

    /// Fetch CHANNEL_URL (or a channel name) from MIRROR_URL; the lockfile keeps CHANNEL_URL.
    #[arg(long = "mirror", value_name = "CHANNEL_URL=MIRROR_URL")]
    mirrors: Vec<String>,

    /// Set or add a virtual package for every platform, e.g. __glibc=2.31 or __cuda=12.4
    /// [default: the recorded ones, else the table: linux __glibc=2.28].
    #[arg(long = "virtual-package", value_name = "NAME=VERSION")]
    virtual_packages: Vec<String>,

    /// Ignore packages published after this date (2024-05-01) or time (RFC 3339)
    /// [default: the recorded cutoff, if any].
    #[arg(long, value_name = "DATE")]
    exclude_newer: Option<String>,

    /// Where downloaded repodata and package metadata are cached [default: the user cache
    /// directory].
    #[arg(long, value_name = "DIR", env = "ENVLOCK_CACHE_DIR")]
    cache_dir: Option<PathBuf>,

    /// Python version (X.Y) to lock pip requirements for when the inputs name none
    /// [default: the newest 3.x the channels have].
    #[arg(long, value_name = "X.Y")]
    python: Option<String>,

    /// Package index for pip requirements, overriding the files' `--index-url`
    /// [default: the recorded index, else https://pypi.org/simple].
    #[arg(long, value_name = "URL", env = "ENVLOCK_INDEX_URL")]
    index_url: Option<String>,

    /// A further package index, repeatable (the environment variable takes several, separated
    /// by spaces, as pip's `PIP_EXTRA_INDEX_URL`); a project is taken from the first index that
    /// has it [default: the recorded ones, when neither this nor the files name one].
    #[arg(
        long = "extra-index-url",
        value_name = "URL",
        env = "ENVLOCK_EXTRA_INDEX_URL",
        value_delimiter = ' '
    )]
    extra_index_urls: Vec<String>,

    /// How a project is looked up across several indexes: `first-index` takes it from the first
    /// index that has it (protects against dependency confusion); `unsafe-best-match` takes the
    /// best version any index has, as pip does [default: the recorded strategy, else
    /// first-index].
    #[arg(long, value_name = "STRATEGY", env = "ENVLOCK_INDEX_STRATEGY")]
    index_strategy: Option<IndexStrategy>,

    /// JSON file mapping conda package names to the PyPI names they provide (or null).
    #[arg(long, value_name = "FILE")]
    pypi_mapping: Option<PathBuf>,

    /// Lock a pyproject.toml input's optional dependencies NAME too, repeatable
    /// [default: the recorded ones].
    #[arg(long = "extra", value_name = "NAME")]
    extras: Vec<String>,

    /// Lock every optional dependency of a pyproject.toml input.
    #[arg(long)]
    all_extras: bool,

    /// Lock a pyproject.toml input's dependency group NAME (PEP 735) too, repeatable
    /// [default: the recorded ones].
    #[arg(long = "group", value_name = "NAME")]
    groups: Vec<String>,

    /// Add no tini for the image's init (by default every Linux platform gets tini when the
    /// inputs do not name it); the image then runs its entrypoint script as PID 1
    /// [default: the recorded choice].
    #[arg(long)]
    no_init: bool,
}

/// A URL flag's value. Parsed here rather than by clap, whose error would echo the value with
/// its credentials.
fn parse_url(flag: &str, s: &str) -> anyhow::Result<Url> {
    Url::parse(s).map_err(|e| {
        Failure::new(format!(
            "invalid {flag} `{}`: {e}",
            envlock::util::redact::url_text(s)
        ))
        .into()
    })
}

fn parse_platform(s: &str) -> Result<Subdir, String> {
    inputs::parse_platform(s).map_err(|f| f.message)
}

pub fn main() -> ExitCode {
    // A panic the library contains (a parser's, turned into an error) prints nothing.
    envlock::util::panic::install_hook();
    let cli = Cli::parse();
    // An interrupted write leaves the old file and no temporary one, an interrupted build no
    // running backend and no build directory (exit 130, as a shell reports SIGINT).
    let _ = ctrlc::set_handler(|| {
        envlock::util::process::kill_all();
        envlock::util::fs::remove_temporary_files();
        std::process::exit(130);
    });
    match cli.color {
        ColorChoice::Always => console::set_colors_enabled_stderr(true),
        ColorChoice::Never => console::set_colors_enabled_stderr(false),
        ColorChoice::Auto => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return report(&anyhow::Error::new(e).context("could not start the async runtime"));
        }
    };
    let result = match cli.command {
        Command::Resolve(args) => runtime.block_on(run_resolve(args, cli.verbose, cli.quiet)),
        Command::Check(args) => run_check(args),
        Command::Diff(args) => run_diff(args),
        Command::Dockerfile(args) => runtime.block_on(run_dockerfile(args, cli.quiet)),
    };
    // Work still running when the command is done (another platform's resolver thread after
    // one failed, metadata prefetches) is abandoned, not waited for: dropping the runtime would
    // block until every blocking thread returns.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

impl InputArgs {
    /// The library's options for these flags.
    fn options(self) -> anyhow::Result<InputOptions> {
        Ok(InputOptions {
            files: self.files,
            lockfile: self.lockfile,
            platforms: self.platforms,
            channels: self.channels,
            channel_alias: self
                .channel_alias
                .as_deref()
                .map(|u| parse_url("--channel-alias", u))
                .transpose()?,
            mirrors: self.mirrors,
            virtual_packages: self
                .virtual_packages
                .iter()
                .map(|v| parse_virtual_package(v))
                .collect::<anyhow::Result<Vec<_>>>()?,
            exclude_newer: self
                .exclude_newer
                .as_deref()
                .map(parse_exclude_newer)
                .transpose()?,
            python: self.python,
            index_url: self
                .index_url
                .as_deref()
                .map(|u| parse_url("--index-url", u))
                .transpose()?,
            extra_index_urls: self
                .extra_index_urls
                .iter()
                .map(|u| parse_url("--extra-index-url", u))
                .collect::<anyhow::Result<_>>()?,
            index_strategy: self.index_strategy,
            pypi_mapping: self.pypi_mapping,
            selection: inputs::Selection {
                extras: self.extras,
                all_extras: self.all_extras,
                groups: self.groups,
            },
            init: self.no_init.then_some(false),
        })
    }
}

async fn run_resolve(args: ResolveArgs, verbose: u8, quiet: bool) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let cache_dir = match args.input.cache_dir.clone() {
        Some(dir) => dir,
        None => dirs::cache_dir()
            .map(|d| d.join("envlock"))
            .ok_or_else(|| Failure::new("no user cache directory").hint("pass --cache-dir DIR"))?,
    };
    let request = ResolveRequest {
        input: args.input.options()?,
        cache_dir,
        update: if args.update_all {
            Update::All
        } else if !args.update.is_empty() {
            Update::Packages(args.update)
        } else {
            Update::Keep
        },
        reporter: if !quiet && std::io::stderr().is_terminal() {
            Arc::new(progress::Spinners::new())
        } else {
            Arc::new(())
        },
        build_python: args.build_python,
        reset: args.reset,
        allow_changed_hashes: args.allow_changed_hashes,
        refresh: args.refresh,
        offline: args.offline,
    };
    let outcome = if args.check {
        match resolve::resolve_if_drifted(request).await? {
            Checked::UpToDate(lockfile) => {
                if !quiet {
                    eprintln!(
                        "{} {} is up to date; nothing to solve",
                        style("Checked").green().bold(),
                        lockfile.display()
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            Checked::Resolved { drift, outcome } => {
                if !quiet && !drift.is_empty() {
                    eprintln!(
                        "{} the lock has drifted; solving again:",
                        style("Checked").yellow().bold()
                    );
                    for f in &drift {
                        eprintln!("  {}", f.message);
                    }
                }
                *outcome
            }
        }
    } else {
        resolve::resolve(request).await?
    };

    if !quiet {
        if !outcome.recorded.is_empty() {
            eprintln!(
                "{} using the options {} records: {} (`--reset` uses the defaults)",
                style("note:").cyan().bold(),
                outcome.lockfile.display(),
                outcome.recorded.join(" ")
            );
        }
        for warning in &outcome.warnings {
            eprintln!("{} {warning}", style("warning:").yellow().bold());
        }
        match outcome.init.as_ref() {
            Some(init) if init.init == envlock::lock::meta::InitChoice::None => eprintln!(
                "{} no tini added for the image's init (--no-init): its entrypoint script runs as PID 1",
                style("note:").cyan().bold()
            ),
            Some(init) if !init.added.is_empty() => eprintln!(
                "{} added tini for the image's init to {} (the inputs do not name it; `--no-init` opts out)",
                style("note:").cyan().bold(),
                init.added.join(", ")
            ),
            _ => {}
        }
        for build in &outcome.builds {
            eprintln!("{} {build}", style("note:").cyan().bold());
        }
        for (solution, set) in outcome.solutions.iter().zip(&outcome.build_sets) {
            for sdist in &set.sdists {
                let needs = match &sdist.compiler {
                    Some(why) => format!("needs a C compiler ({why})"),
                    None => "pure Python".to_string(),
                };
                let pinned = match &sdist.needs {
                    Ok(names) if names.is_empty() => "no build requirements".to_string(),
                    Ok(names) => format!(
                        "build requirements pinned: {}",
                        names
                            .iter()
                            .map(|n| n.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Err(_) => "build requirements not pinned".to_string(),
                };
                eprintln!(
                    "{} the image builds {} {} from its sdist for {}: {needs}; {pinned}",
                    style("note:").cyan().bold(),
                    sdist.name,
                    sdist.version,
                    solution.platform
                );
            }
        }
        let counts: Vec<String> = outcome
            .solutions
            .iter()
            .zip(&outcome.pypi)
            .map(|(s, pip)| {
                let conda = s.records.len();
                let plural = |n: usize| if n == 1 { "package" } else { "packages" };
                match pip.len() {
                    0 => format!("{} ({conda} {})", s.platform, plural(conda)),
                    n => format!(
                        "{} ({conda} conda + {n} pip {})",
                        s.platform,
                        plural(conda + n)
                    ),
                }
            })
            .collect();
        eprintln!(
            "{} {} into {} in {:.2}s",
            style("Locked").green().bold(),
            counts.join(", "),
            outcome.lockfile.display(),
            started.elapsed().as_secs_f64()
        );
        if verbose > 0 {
            for (solution, pip) in outcome.solutions.iter().zip(&outcome.pypi) {
                eprintln!("{}:", solution.platform);
                for r in &solution.records {
                    let p = &r.package_record;
                    eprintln!("  {} {} {}", p.name.as_normalized(), p.version, p.build);
                }
                for p in pip {
                    eprintln!("  {} {} (pip)", p.name, p.version);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    use envlock::{commands::diff as load, lock::diff};
    let (old, old_name) = match &args.old {
        Some(path) => load::from_file(path)?,
        None => load::at_head(&args.lockfile)?,
    };
    let (new, new_name) = load::from_file(args.new.as_ref().unwrap_or(&args.lockfile))?;
    let changes = diff::diff(&old, &new);
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({"old": old_name, "new": new_name, "changes": changes});
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        _ => print!("{}", diff::render_text(&changes, &old_name, &new_name)),
    }
    Ok(ExitCode::SUCCESS)
}

fn run_check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let report = envlock::commands::check::check_with(&args.input.options()?, args.git_refs)?;
    let elapsed = started.elapsed();
    print_findings(&report, args.format, elapsed);
    Ok(if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Findings as text (stderr), JSON (stdout) or GitHub Actions annotations (stdout).
fn print_findings(report: &check::Report, format: Format, elapsed: std::time::Duration) {
    let findings = &report.findings;
    match format {
        Format::Json => {
            let items: Vec<serde_json::Value> = findings
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "message": f.message,
                        "file": f.file.display().to_string(),
                        "line": f.line,
                        "platform": f.platform,
                        "fix": f.fix().command(),
                        "kind": f.kind.name(),
                    })
                })
                .collect();
            let doc = serde_json::json!({"ok": findings.is_empty(), "lockfile": report.lockfile.display().to_string(), "findings": items});
            println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        }
        Format::Github => {
            // https://docs.github.com/actions/reference/workflow-commands-for-github-actions
            let escape = |s: &str| {
                s.replace('%', "%25")
                    .replace('\r', "%0D")
                    .replace('\n', "%0A")
            };
            let property = |s: &str| escape(s).replace(':', "%3A").replace(',', "%2C");
            for f in findings {
                let line = f.line.map(|l| format!(",line={l}")).unwrap_or_default();
                println!(
                    "::error file={}{line},title={}::{}",
                    property(&f.file.display().to_string()),
                    property("envlock check"),
                    escape(&format!("{}; run `{}`", f.message, f.fix().command()))
                );
            }
        }
        Format::Text => {
            for f in findings {
                eprintln!(
                    "{} {}; run `{}`",
                    style("drift:").red().bold(),
                    f.message,
                    f.fix().command()
                );
            }
        }
    }
    if format != Format::Json {
        if findings.is_empty() {
            eprintln!(
                "{} {} agrees with the inputs and the rendered files ({} ms)",
                style("Checked").green().bold(),
                report.lockfile.display(),
                elapsed.as_millis()
            );
        } else {
            eprintln!(
                "{} {} finding{}",
                style("Drift:").red().bold(),
                findings.len(),
                if findings.len() == 1 { "" } else { "s" }
            );
        }
    }
}

async fn run_dockerfile(args: DockerfileArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let flags = DockerfileFlags {
        lockfile: args.lockfile,
        output: args.output,
        dir: args.dir,
        base: args.base,
        flavor: args.flavor,
        preset: args.preset,
        cmd: args.cmd,
        ports: args.ports,
        run: args.run,
        entrypoint: args.entrypoint,
        explicit_hash: args.explicit_hash,
        editable: args.editable,
        runtime: args.runtime,
        runtime_base: args.runtime_base,
        reset: args.reset,
        locked: args.locked,
        allow_compile: args.allow_compile,
        cache_dir: args.cache_dir,
    };
    match envlock::commands::dockerfile::run(flags).await? {
        Rendered::Stale(report) => {
            print_findings(&report, Format::Text, std::time::Duration::ZERO);
            eprintln!(
                "{} refusing to render from a stale lock (--locked)",
                style("error:").red().bold()
            );
            Ok(ExitCode::from(1))
        }
        Rendered::Written(outcome) => {
            if !quiet {
                for warning in &outcome.warnings {
                    eprintln!("{} {warning}", style("warning:").yellow().bold());
                }
                let names: Vec<String> = outcome
                    .written
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                eprintln!(
                    "{} {} (base {})",
                    style("Wrote").green().bold(),
                    names.join(", "),
                    outcome.base
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints an error uv-style: the message, its causes, then the hint; exit code 2.
fn report(error: &anyhow::Error) -> ExitCode {
    eprintln!("{} {error}", style("error:").red().bold());
    for cause in error.chain().skip(1) {
        eprintln!("  {} {cause}", style("caused by:").red());
    }
    let failure = error.chain().find_map(|e| e.downcast_ref::<Failure>());
    if let Some(snippet) = failure.and_then(snippet) {
        eprint!("{snippet}");
    }
    if let Some(hint) = failure.and_then(|f| f.hint.as_deref()) {
        eprintln!("  {} {hint}", style("hint:").cyan().bold());
    }
    ExitCode::from(2)
}

/// The offending line of a failure's file with the place underlined, drawn by miette; `None`
/// when the failure has no place.
fn snippet(failure: &Failure) -> Option<String> {
    use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
    failure.source_code()?;
    /// The failure's source and labels only: the message and hint are printed around it.
    #[derive(Debug)]
    struct Place<'a>(&'a Failure);
    impl std::fmt::Display for Place<'_> {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            Ok(())
        }
    }
    impl std::error::Error for Place<'_> {}
    impl Diagnostic for Place<'_> {
        fn source_code(&self) -> Option<&dyn miette::SourceCode> {
            self.0.source_code()
        }
        fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
            self.0.labels()
        }
    }
    let theme = if console::colors_enabled_stderr() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let mut out = String::new();
    GraphicalReportHandler::new_themed(theme)
        .with_context_lines(1)
        .with_links(false)
        .render_report(&mut out, &Place(failure))
        .ok()?;
    // The handler opens with the (empty) message line; the snippet starts at its frame.
    let start = out.find("╭─[")?;
    let start = out[..start].rfind('\n').map_or(0, |i| i + 1);
    Some(out[start..].to_string())
}
