//! Command-line interface: argument parsing, progress and messages. No logic lives here.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Instant};

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use console::style;
use envlock::{
    check,
    conda::{self, DEFAULT_CHANNEL_ALIAS},
    error::Failure,
    resolve::{self, ResolveRequest, Update},
    spec,
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
        after_help = "Examples:\n  envlock resolve\n  envlock resolve environment.yml -p linux-64 -p osx-arm64\n  envlock resolve --channel-alias https://conda.example.com --exclude-newer 2024-05-01\n  envlock resolve --mirror https://conda.anaconda.org/conda-forge=https://mirror.example.com/conda-forge\n  envlock resolve --virtual-package __cuda=12.4 --virtual-package __glibc=2.28"
    )]
    Resolve(ResolveArgs),

    /// Check, without solving or the network, that the lock satisfies the inputs and that the
    /// Dockerfile and its files match the lock. Exit 0: all agree; 1: drift; 2: error.
    #[command(
        after_help = "Examples:\n  envlock check\n  envlock check --format github    # annotations in a GitHub Actions job\n  envlock check environment.yml -p linux-64"
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
    flavor: Option<FlavorArg>,

    /// What the image runs: `python app.py`, gunicorn serving app:app, or JupyterLab
    /// [default: python].
    #[arg(long, value_enum)]
    preset: Option<PresetArg>,

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
    entrypoint: Option<EntrypointArg>,

    /// The hash the @EXPLICIT files carry: sha256 (conda >= 24.9, micromamba >= 2.1) or md5
    /// [default: sha256].
    #[arg(long, value_enum)]
    explicit_hash: Option<HashArg>,

    /// Ignore the options recorded by the last run; use the defaults for what is not given.
    #[arg(long)]
    reset: bool,

    /// Refuse to render from a lock that no longer satisfies the inputs (./environment.yml, else
    /// ./requirements.txt), exiting 1.
    #[arg(long)]
    locked: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum FlavorArg {
    Conda,
    Venv,
}

#[derive(Clone, Copy, ValueEnum)]
enum PresetArg {
    Python,
    Flask,
    Jupyter,
}

#[derive(Clone, Copy, ValueEnum)]
enum EntrypointArg {
    Tini,
    CondaRun,
}

#[derive(Clone, Copy, ValueEnum)]
enum HashArg {
    Sha256,
    Md5,
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
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    input: InputArgs,

    /// How to print findings: text, json, or github (GitHub Actions annotations).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
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

/// [`InputArgs`] on their own, for commands that need them without taking them as arguments.
#[derive(Parser)]
struct InputOnly {
    #[command(flatten)]
    input: InputArgs,
}

/// The inputs and the options that decide a lock: shared by `resolve` and `check`.
#[derive(Args)]
struct InputArgs {
    /// Input files: environment.yml and/or pip requirements files.
    /// Default: ./environment.yml, else ./requirements.txt.
    files: Vec<PathBuf>,

    /// Where to write the lockfile [default: conda-lock.yml beside the first input].
    #[arg(long, value_name = "PATH")]
    lockfile: Option<PathBuf>,

    /// Target platform, repeatable. Overrides the file's `platforms:`
    /// [default: linux-64 and linux-aarch64].
    #[arg(short, long = "platform", value_name = "PLATFORM", value_parser = parse_platform)]
    platforms: Vec<Subdir>,

    /// Add a channel after the file's channels, repeatable.
    #[arg(short, long = "channel", value_name = "CHANNEL")]
    channels: Vec<String>,

    /// URL that channel names are resolved against, as conda's `channel_alias`.
    #[arg(long, value_name = "URL", env = "ENVLOCK_CHANNEL_ALIAS", default_value = DEFAULT_CHANNEL_ALIAS)]
    channel_alias: Url,

    /// Fetch CHANNEL_URL (or a channel name) from MIRROR_URL; the lockfile keeps CHANNEL_URL.
    #[arg(long = "mirror", value_name = "CHANNEL_URL=MIRROR_URL")]
    mirrors: Vec<String>,

    /// Set or add a virtual package for every platform, e.g. __glibc=2.28 or __cuda=12.4.
    #[arg(long = "virtual-package", value_name = "NAME=VERSION")]
    virtual_packages: Vec<String>,

    /// Ignore packages published after this date (2024-05-01) or time (RFC 3339).
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
    /// [default: https://pypi.org/simple].
    #[arg(long, value_name = "URL", env = "ENVLOCK_INDEX_URL")]
    index_url: Option<Url>,

    /// A further package index, repeatable; a project is taken from the first index that has it.
    #[arg(long = "extra-index-url", value_name = "URL")]
    extra_index_urls: Vec<Url>,

    /// JSON file mapping conda package names to the PyPI names they provide (or null).
    #[arg(long, value_name = "FILE")]
    pypi_mapping: Option<PathBuf>,
}

fn parse_platform(s: &str) -> Result<Subdir, String> {
    spec::parse_platform(s).map_err(|f| f.message)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
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
    match result {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

/// The resolve request the input options describe.
fn request(
    args: InputArgs,
    progress: Option<indicatif::MultiProgress>,
) -> anyhow::Result<ResolveRequest> {
    let virtual_packages = args
        .virtual_packages
        .iter()
        .map(|v| conda::parse_virtual_package(v))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let exclude_newer = args
        .exclude_newer
        .as_deref()
        .map(conda::parse_exclude_newer)
        .transpose()?;
    let cache_dir = match args.cache_dir {
        Some(dir) => dir,
        None => dirs::cache_dir()
            .map(|d| d.join("envlock"))
            .ok_or_else(|| Failure::new("no user cache directory").hint("pass --cache-dir DIR"))?,
    };
    Ok(ResolveRequest {
        inputs: args.files,
        lockfile: args.lockfile,
        platforms: args.platforms,
        channels: args.channels,
        channel_alias: args.channel_alias,
        mirrors: args.mirrors,
        virtual_packages,
        exclude_newer,
        cache_dir,
        python: args.python,
        index_url: args.index_url,
        extra_index_urls: args.extra_index_urls,
        pypi_mapping: args.pypi_mapping,
        update: Update::Keep,
        progress,
    })
}

async fn run_resolve(args: ResolveArgs, verbose: u8, quiet: bool) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let progress = (!quiet && std::io::stderr().is_terminal()).then(indicatif::MultiProgress::new);
    let mut request = request(args.input, progress)?;
    request.update = if args.update_all {
        Update::All
    } else if !args.update.is_empty() {
        Update::Packages(args.update)
    } else {
        Update::Keep
    };
    if args.check && resolve::prepare(&request)?.lockfile.exists() {
        let report = check::check(&request)?;
        if report.findings.is_empty() {
            if !quiet {
                eprintln!(
                    "{} {} is up to date; nothing to solve",
                    style("Checked").green().bold(),
                    report.lockfile.display()
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        if !quiet {
            eprintln!(
                "{} the lock has drifted; solving again:",
                style("Checked").yellow().bold()
            );
            for f in &report.findings {
                eprintln!("  {}", f.message);
            }
        }
    }
    let outcome = resolve::resolve(request).await?;

    if !quiet {
        for warning in &outcome.warnings {
            eprintln!("{} {warning}", style("warning:").yellow().bold());
        }
        let counts: Vec<String> = outcome
            .solutions
            .iter()
            .zip(&outcome.pypi)
            .map(|(s, pip)| match pip.len() {
                0 => format!("{} ({} packages)", s.platform, s.records.len()),
                n => format!(
                    "{} ({} conda + {n} pip packages)",
                    s.platform,
                    s.records.len()
                ),
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
    use envlock::diff;
    let (old, old_name) = match &args.old {
        Some(path) => diff::from_file(path)?,
        None => diff::at_head(&args.lockfile)?,
    };
    let (new, new_name) = diff::from_file(args.new.as_ref().unwrap_or(&args.lockfile))?;
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
    let report = check::check(&request(args.input, None)?)?;
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
                        "fix": f.fix.command(),
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
                    escape(&format!("{}; run `{}`", f.message, f.fix.command()))
                );
            }
        }
        Format::Text => {
            for f in findings {
                eprintln!(
                    "{} {}; run `{}`",
                    style("drift:").red().bold(),
                    f.message,
                    f.fix.command()
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
    if args.locked {
        // The inputs are found as `envlock check` finds them (./environment.yml, ...), with the
        // environment's ENVLOCK_* settings.
        let input = InputOnly::try_parse_from([
            "envlock".into(),
            "--lockfile".into(),
            args.lockfile.clone().into_os_string(),
        ])?
        .input;
        let report = check::check(&request(input, None)?)?;
        // `dockerfile` is not given resolve's options (-p, --exclude-newer, ...): judge the lock
        // against the inputs, not against option defaults.
        let stale: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.fix == check::Fix::Resolve && !f.about_options)
            .cloned()
            .collect();
        if !stale.is_empty() {
            let report = check::Report {
                lockfile: report.lockfile,
                findings: stale,
            };
            print_findings(&report, Format::Text, std::time::Duration::ZERO);
            eprintln!(
                "{} refusing to render from a stale lock (--locked)",
                style("error:").red().bold()
            );
            return Ok(ExitCode::from(1));
        }
    }
    use envlock::{
        dockerfile::DockerfileRequest,
        render::{
            ExplicitHash,
            dockerfile::{Entrypoint, Flavor, Preset},
        },
    };
    let lock = envlock::lock::read(&args.lockfile)?;
    let recorded = if args.reset {
        None
    } else {
        DockerfileRequest::recorded(&lock, &args.lockfile)?
    };
    let recorded = recorded.as_ref();
    let request = DockerfileRequest {
        output: args
            .output
            .or_else(|| recorded.map(|r| r.output.clone()))
            .unwrap_or_else(|| PathBuf::from("Dockerfile")),
        dir: args
            .dir
            .or_else(|| recorded.map(|r| r.dir.clone()))
            .unwrap_or_else(|| "envlock".to_string()),
        base: args.base,
        flavor: match args.flavor {
            Some(FlavorArg::Conda) => Flavor::Conda,
            Some(FlavorArg::Venv) => Flavor::Venv,
            None => recorded.map_or(Flavor::Conda, |r| r.flavor),
        },
        preset: match args.preset {
            Some(PresetArg::Python) => Preset::Python,
            Some(PresetArg::Flask) => Preset::Flask,
            Some(PresetArg::Jupyter) => Preset::Jupyter,
            None => recorded.map_or(Preset::Python, |r| r.preset),
        },
        cmd: args.cmd.or_else(|| recorded.and_then(|r| r.cmd.clone())),
        ports: if args.ports.is_empty() {
            recorded.map(|r| r.ports.clone()).unwrap_or_default()
        } else {
            args.ports
        },
        run: if args.run.is_empty() {
            recorded.map(|r| r.run.clone()).unwrap_or_default()
        } else {
            args.run
        },
        entrypoint: match args.entrypoint {
            Some(EntrypointArg::Tini) => Entrypoint::Tini,
            Some(EntrypointArg::CondaRun) => Entrypoint::CondaRun,
            None => recorded.map_or(Entrypoint::Tini, |r| r.entrypoint),
        },
        explicit_hash: match args.explicit_hash {
            Some(HashArg::Sha256) => ExplicitHash::Sha256,
            Some(HashArg::Md5) => ExplicitHash::Md5,
            None => recorded.map_or(ExplicitHash::Sha256, |r| r.explicit_hash),
        },
        lockfile: args.lockfile,
    };
    let outcome = envlock::dockerfile::dockerfile(request, lock).await?;
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

/// Prints an error uv-style: the message, its causes, then the hint; exit code 2.
fn report(error: &anyhow::Error) -> ExitCode {
    eprintln!("{} {error}", style("error:").red().bold());
    for cause in error.chain().skip(1) {
        eprintln!("  {} {cause}", style("caused by:").red());
    }
    if let Some(hint) = error
        .chain()
        .find_map(|e| e.downcast_ref::<Failure>())
        .and_then(|f| f.hint.as_deref())
    {
        eprintln!("  {} {hint}", style("hint:").cyan().bold());
    }
    ExitCode::from(2)
}
