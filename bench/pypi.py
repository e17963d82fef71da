#!/usr/bin/env python3
"""Times `envlock resolve` on pip requirements files against uv and pip-tools.

Each scenario is a requirements.txt locked three ways, with hashes, for CPython 3.11.7 on
linux-64 (manylinux_2_28) and packages published up to 2024-06-01:

- envlock: `envlock resolve requirements.txt -c fixtures/channels/pyconda --python 3.11 ...`
  (the fixture channel supplies conda python 3.11.7 + pip; the pip requirements are resolved
  against PyPI and written as `manager: pip` entries of a conda-lock v1 file);
- uv, the bar: `uv pip compile --generate-hashes --python-version 3.11.7
  --python-platform x86_64-manylinux_2_28 --exclude-newer 2024-06-01`;
- pip-tools: `pip-compile --generate-hashes`, run by the bench venv's Python 3.11.7. It has no
  exclude-newer and resolves for this machine, so its versions may differ.

Every measurement is a separate process (start-up included) fetching from the real PyPI through
this machine's network, so the cold numbers are as variable as that network. uv and pip-compile,
measured in the same run, are the anchors: the output is the ratio envlock / uv and
envlock / pip-compile, not absolute speed.

Usage, from the repository root:

    python3 bench/pypi.py --envlock target/release/envlock --venv /tmp/venv-bench

Only the Python standard library is needed here; uv and pip-tools have to be installed in
--venv. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

# The target, spelled out for each tool. The pyconda channel's python is 3.11.7; uv's
# `--python-version 3.11` would mean 3.11.0 (and change `python_full_version` markers).
ENVLOCK_PYTHON = "3.11"
UV_PYTHON_VERSION = "3.11.7"
CONDA_PLATFORM = "linux-64"
UV_PLATFORM = "x86_64-manylinux_2_28"  # envlock's linux-64 has __glibc=2.28
EXCLUDE_NEWER = "2024-06-01"  # both tools read a date as the end of that day (UTC here)


@dataclass
class Scenario:
    key: str
    title: str
    requirements: list[str]
    # Other files beside requirements.txt (its `-r`/`-c` includes), by name.
    files: dict[str, str] | None = None


SCENARIOS = [
    Scenario("a", "flask==3.0.3, redis>=5,<6, gunicorn", ["flask==3.0.3", "redis>=5,<6", "gunicorn"]),
    Scenario("b", "jupyterlab==4.2.1", ["jupyterlab==4.2.1"]),
    Scenario("c", "numpy<2, pandas, scikit-learn", ["numpy<2", "pandas", "scikit-learn"]),
    Scenario(
        "d",
        "jupyter-notebook: ipython[all], jupyterlab, notebook, ipywidgets",
        ["ipython[all]", "jupyterlab", "notebook", "ipywidgets"],
    ),
    Scenario(
        "e",
        "includes-constraints: -r base.txt, -c constraints.txt, requests, rich",
        ["-r base.txt", "-c constraints.txt", "requests", "rich"],
        {"base.txt": "flask\nsqlalchemy\n", "constraints.txt": "urllib3<2\nsqlalchemy<2.1\n"},
    ),
]

TOOLS = ("envlock", "uv", "pip-compile")
OUTPUTS = {"envlock": "conda-lock.yml", "uv": "uv.txt", "pip-compile": "pip-compile.txt"}


# --------------------------------------------------------------------------------------------
# One run of each tool: (seconds, {normalized name: version}) read from the file it wrote.


class ToolFailed(Exception):
    pass


def run_timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise ToolFailed(
            f"command failed with exit code {proc.returncode}: {' '.join(cmd)}\n"
            f"{proc.stderr.strip()}\n{proc.stdout.strip()}"
        )
    return elapsed


def envlock_cmd(args, cache: Path) -> list[str]:
    return [
        str(args.envlock), "resolve", "requirements.txt", "--color", "never",
        "-c", str(args.channel), "--python", ENVLOCK_PYTHON, "-p", CONDA_PLATFORM,
        "--exclude-newer", EXCLUDE_NEWER, "--cache-dir", str(cache),
        "--lockfile", OUTPUTS["envlock"],
    ]  # fmt: skip


def uv_cmd(args, cache: Path) -> list[str]:
    # --no-config: no uv.toml / pyproject.toml from the directory or the user's config.
    return [
        str(args.uv), "pip", "compile", "requirements.txt", "--generate-hashes", "--no-config",
        "--python-version", UV_PYTHON_VERSION, "--python-platform", UV_PLATFORM,
        "--exclude-newer", EXCLUDE_NEWER, "-o", OUTPUTS["uv"],
    ]  # fmt: skip


def pip_compile_cmd(args, cache: Path) -> list[str]:
    # --cache-dir is pip-tools' cache, which it also hands to pip as pip's --cache-dir (HTTP and
    # wheel cache), so a fresh directory is a cold run. --allow-unsafe pins setuptools/pip as uv
    # and envlock do (pip-tools 8's default). --no-config: no .pip-tools.toml / pyproject.toml.
    return [
        str(args.pip_compile), "--generate-hashes", "--allow-unsafe", "--no-config",
        "--cache-dir", str(cache), "--output-file", OUTPUTS["pip-compile"], "requirements.txt",
    ]  # fmt: skip


def tool_env(tool: str, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    if tool == "uv":
        env["UV_CACHE_DIR"] = str(cache)
    elif tool == "pip-compile":
        env["PIP_CACHE_DIR"] = str(cache)  # overridden by --cache-dir; set for pip alone too
        env.pop("PIP_FIND_LINKS", None)  # a local wheel directory would change the resolution
    return env


COMMANDS = {"envlock": envlock_cmd, "uv": uv_cmd, "pip-compile": pip_compile_cmd}


# A closed port: with it as the proxy, nothing reaches the network.
CUT_PROXY = "http://127.0.0.1:9"


def run_tool(args, tool: str, work: Path, cache: Path, cut: bool = False) -> tuple[float, dict[str, str]]:
    """One timed run in the scenario's directory. The previous output is deleted first: uv and
    pip-compile would otherwise take their pins from it as preferences. `cut`: the network is
    cut (every proxy variable points at a closed port), and uv runs with `--offline`, its
    cache-only mode; envlock runs as it is, relying on its cutoff-aware cache."""
    output = work / OUTPUTS[tool]
    output.unlink(missing_ok=True)
    env = tool_env(tool, cache)
    cmd = COMMANDS[tool](args, cache)
    if cut:
        for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
            env[var] = CUT_PROXY
        env.pop("NO_PROXY", None)
        env.pop("no_proxy", None)
        if tool == "uv":
            cmd = cmd + ["--offline"]
    elapsed = run_timed(cmd, work, env)
    text = output.read_text()
    versions = parse_envlock_lock(text, CONDA_PLATFORM) if tool == "envlock" else parse_pins(text)
    if not versions:
        raise ToolFailed(f"{tool} wrote no pinned packages to {output}:\n{text}")
    return elapsed, versions


# --------------------------------------------------------------------------------------------
# Reading the outputs without a YAML library


def normalize(name: str) -> str:
    """PEP 503 name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> dict[str, str]:
    """`name==version` lines of a requirements file written by uv or pip-compile."""
    pins = {}
    for line in text.splitlines():
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if m:
            pins[normalize(m[1])] = m[2]
    return pins


def parse_envlock_lock(text: str, platform: str) -> dict[str, str]:
    """The `manager: pip` entries for `platform` of a conda-lock v1 file, as written by envlock,
    without the sdists' build requirements (`category: build`, which uv does not lock).

    Reads only the top-level keys of each `- ` item under `package:` (two-space indent, plain or
    quoted scalars); nested maps such as `dependencies:` and `hash:` are indented further.
    """
    pins: dict[str, str] = {}
    entry: dict[str, str] | None = None

    def flush() -> None:
        if (
            entry
            and entry.get("manager") == "pip"
            and entry.get("platform") == platform
            and entry.get("category", "main") != "build"
        ):
            pins[normalize(entry["name"])] = entry["version"]

    in_packages = False
    for line in text.splitlines():
        if not line.startswith((" ", "-")):  # a top-level key
            flush()
            entry = None
            in_packages = line.rstrip() == "package:"
            continue
        if not in_packages:
            continue
        if line.startswith("- "):
            flush()
            entry = {}
            line = "  " + line[2:]
        m = re.fullmatch(r"  (name|version|manager|platform|category): (.+)", line.rstrip())
        if m and entry is not None:
            value = m[2].strip()
            if value in (">-", ">", "|", "|-"):
                raise ToolFailed(f"unexpected block scalar for `{m[1]}` in envlock's lockfile")
            entry[m[1]] = value[1:-1] if value[:1] in "'\"" and value[-1:] == value[:1] else value
    flush()
    return pins


def compare(ours: dict[str, str], theirs: dict[str, str], other: str) -> dict:
    """The symmetric difference of two {name: version} maps."""
    only_ours = {n: v for n, v in ours.items() if n not in theirs}
    only_theirs = {n: v for n, v in theirs.items() if n not in ours}
    different = {n: [v, theirs[n]] for n, v in ours.items() if n in theirs and theirs[n] != v}
    same = not (only_ours or only_theirs or different)
    parts = [f"{n} {a} vs {b}" for n, (a, b) in sorted(different.items())]
    if only_ours:
        parts.append("only envlock: " + ", ".join(f"{n}=={v}" for n, v in sorted(only_ours.items())))
    if only_theirs:
        parts.append(f"only {other}: " + ", ".join(f"{n}=={v}" for n, v in sorted(only_theirs.items())))
    return {
        "same": same,
        "different": different,
        "only_envlock": only_ours,
        f"only_{other}": only_theirs,
        "summary": f"same ({len(ours)} packages)"
        if same
        else f"differ ({len(different)} versions, {len(only_ours)} only envlock, "
        f"{len(only_theirs)} only {other}): " + "; ".join(parts),
    }


# --------------------------------------------------------------------------------------------
# Measurements


def fresh_dir(parent: Path, name: str) -> Path:
    path = parent / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def measure(args, tmp: Path, scenarios: list[Scenario]) -> tuple[list[dict], dict, list[str]]:
    tools = [t for t in TOOLS if args.runs_of[t] > 0]
    results: list[dict] = []
    versions: dict[str, dict] = {}
    problems: list[str] = []

    for scenario in scenarios:
        work = fresh_dir(tmp, f"scenario-{scenario.key}")
        (work / "requirements.txt").write_text("".join(f"{r}\n" for r in scenario.requirements))
        for name, text in (scenario.files or {}).items():
            (work / name).write_text(text)

        # Warm caches: one untimed run per tool fills them; its output is the reference solution.
        warm_cache = {tool: fresh_dir(tmp, f"warm-{scenario.key}-{tool}") for tool in tools}
        reference: dict[str, dict[str, str]] = {}
        for tool in tools:
            elapsed, reference[tool] = run_tool(args, tool, work, warm_cache[tool])
            log(f"  {scenario.key} prime {tool:11} {elapsed:.3f}s (untimed, fills the warm cache)")
        v = {"scenario": scenario.key, **{t: reference[t] for t in tools}}
        v["warm_cache_bytes"] = {t: dir_size(warm_cache[t]) for t in tools}
        if "uv" in reference:
            v["envlock_vs_uv"] = compare(reference["envlock"], reference["uv"], "uv")
            if not v["envlock_vs_uv"]["same"]:
                problems.append(f"{scenario.key}: envlock vs uv: {v['envlock_vs_uv']['summary']}")
        if "pip-compile" in reference:
            v["envlock_vs_pip-compile"] = compare(reference["envlock"], reference["pip-compile"], "pip-compile")
        versions[scenario.key] = v

        for mode in ("cold", "warm", "cut"):
            # Network cut: envlock (as it is) against `uv pip compile --offline`, warm caches.
            mode_tools = [t for t in tools if mode != "cut" or t in ("envlock", "uv")]
            times: dict[str, list[float]] = {tool: [] for tool in mode_tools}
            for i in range(max(args.runs_of[t] for t in mode_tools)):
                # Alternate the tools so that drift (network, other load) hits all of them alike,
                # and rotate who goes first: a proxy or mirror that keeps recent responses for a
                # while would otherwise always favour the tool that follows another.
                for tool in mode_tools[i % len(mode_tools) :] + mode_tools[: i % len(mode_tools)]:
                    if i >= args.runs_of[tool]:
                        continue
                    if mode == "cold":
                        cache = fresh_dir(tmp, f"cold-{tool}")
                    else:
                        cache = warm_cache[tool]
                    elapsed, got = run_tool(args, tool, work, cache, cut=mode == "cut")
                    times[tool].append(elapsed)
                    if got != reference[tool]:
                        diff = compare(got, reference[tool], "first run")["summary"]
                        problems.append(
                            f"{scenario.key} {mode} run {i + 1}: {tool} differs from its first run: {diff}"
                        )
                    log(
                        f"  {scenario.key} {mode:4}  {tool:11} run {i + 1}/{args.runs_of[tool]}: {elapsed:.3f}s"
                    )

            row: dict = {
                "scenario": scenario.key,
                "title": scenario.title,
                "cache": mode,
                "packages": {t: len(reference[t]) for t in mode_tools},
            }
            for tool in mode_tools:
                row[tool] = {
                    "median_s": statistics.median(times[tool]),
                    "min_s": min(times[tool]),
                    "runs_s": times[tool],
                }
            for other in ("uv", "pip-compile"):
                if other in mode_tools:
                    row[f"ratio_median_{other}"] = row["envlock"]["median_s"] / row[other]["median_s"]
            results.append(row)
    return results, versions, problems


# --------------------------------------------------------------------------------------------
# Output


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tool_versions(args) -> dict[str, str]:
    def out(cmd: list[str]) -> str:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"error: `{' '.join(cmd)}` failed; see bench/README.md\n{proc.stderr}")
        return proc.stdout.strip()

    python = out([str(args.venv_python), "-c", "import sys, pip; print(sys.version.split()[0], pip.__version__)"])
    python_version, pip_version = python.split()
    return {
        "envlock": out([str(args.envlock), "--version"]).removeprefix("envlock "),
        "uv": out([str(args.uv), "--version"]).split()[1],
        "pip-compile": out([str(args.pip_compile), "--version"]).split()[-1],
        "pip": pip_version,
        "python (pip-compile)": python_version,
    }


def fmt(row: dict, tool: str, key: str, width: int) -> str:
    return f"{row[tool][key]:{width}.3f}" if tool in row else f"{'-':>{width}}"


def print_table(results: list[dict], versions: dict, meta: dict, problems: list[str]) -> None:
    ver, runs = meta["versions"], meta["runs"]
    print(
        f"envlock {ver['envlock']} resolve (pip requirements) vs uv {ver['uv']} pip compile and "
        f"pip-compile {ver['pip-compile']} (pip {ver['pip']}, python {ver['python (pip-compile)']})"
    )
    print(
        f"runs: envlock {runs['envlock']}, uv {runs['uv']}, pip-compile {runs['pip-compile']}; "
        f"target: CPython {UV_PYTHON_VERSION}, {CONDA_PLATFORM} = {UV_PLATFORM}, "
        f"exclude-newer {EXCLUDE_NEWER} (pip-compile: this machine, no cutoff)"
    )
    print(
        "PyPI fetched live over this machine's shared network: cold runs download everything, "
        "their spread is the network's"
    )
    print("times in seconds per process; ratio = envlock median / other median (< 1: envlock faster)")
    print(
        f"cache 'cut': warm caches with every proxy variable at a closed port ({CUT_PROXY}); "
        "envlock as it is, uv with --offline"
    )
    print()
    header = (
        f"{'scenario':40} {'cache':5} {'pins e/u/p':>10} {'envlock med':>11} {'min':>6} "
        f"{'uv med':>7} {'min':>6} {'pip-compile med':>15} {'min':>6} {'e/uv':>6} {'e/pip-c':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        pins = "/".join(str(r["packages"].get(t, "-")) for t in TOOLS)
        ru, rp = r.get("ratio_median_uv"), r.get("ratio_median_pip-compile")
        print(
            f"{r['scenario'] + ': ' + r['title']:40} {r['cache']:5} {pins:>10} "
            f"{fmt(r, 'envlock', 'median_s', 11)} {fmt(r, 'envlock', 'min_s', 6)} "
            f"{fmt(r, 'uv', 'median_s', 7)} {fmt(r, 'uv', 'min_s', 6)} "
            f"{fmt(r, 'pip-compile', 'median_s', 15)} {fmt(r, 'pip-compile', 'min_s', 6)} "
            f"{f'{ru:6.2f}' if ru is not None else '     -'} {f'{rp:7.2f}' if rp is not None else '      -'}"
        )
    print()
    print(f"resolved versions (envlock's {CONDA_PLATFORM} pip entries vs the others' name==version lines):")
    for key, v in versions.items():
        if "envlock_vs_uv" in v:
            print(f"  {key} envlock vs uv:          {v['envlock_vs_uv']['summary']}")
        if "envlock_vs_pip-compile" in v:
            print(f"  {key} envlock vs pip-compile: {v['envlock_vs_pip-compile']['summary']}")
    print("  (pip-compile has no exclude-newer: versions published after the cutoff are expected there)")
    print()
    print("warm cache size after the priming run (bytes on disk):")
    for key, v in versions.items():
        sizes = ", ".join(f"{t} {n / 1024:.0f} KiB" for t, n in v["warm_cache_bytes"].items())
        print(f"  {key}: {sizes}")
    print()
    if problems:
        print("!!! MISMATCH: the tools did not do the same work; the ratios against them are suspect !!!")
        for problem in problems:
            print(f"!!! {problem}")
    else:
        print("checks: envlock and uv pinned the same versions; every run pinned what its first run did")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--envlock", type=Path, default=REPO_ROOT / "target/release/envlock", help="envlock binary"
    )
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path("/tmp/venv-bench"),
        help="venv with uv and pip-tools; pip-compile resolves for its Python [default: /tmp/venv-bench]",
    )
    parser.add_argument("--uv", type=Path, help="uv binary [default: VENV/bin/uv]")
    parser.add_argument("--pip-compile", type=Path, help="pip-compile script [default: VENV/bin/pip-compile]")
    parser.add_argument(
        "--channel",
        type=Path,
        default=REPO_ROOT / "fixtures/channels/pyconda",
        help="conda channel with python 3.11.7 and pip [default: fixtures/channels/pyconda]",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per case for envlock and uv [default: 3]")
    parser.add_argument(
        "--runs-pip-compile", type=int, default=2, help="runs per case for pip-compile; 0 skips it [default: 2]"
    )
    parser.add_argument(
        "--scenario", action="append", choices=[s.key for s in SCENARIOS], help="run only these (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    args = parser.parse_args()

    args.envlock = args.envlock.resolve()
    args.channel = args.channel.resolve()
    args.uv = (args.uv or args.venv / "bin/uv").absolute()
    args.pip_compile = (args.pip_compile or args.venv / "bin/pip-compile").absolute()
    # pip-compile resolves for the interpreter it runs under: the one in its shebang, the venv's.
    args.venv_python = args.venv.absolute() / "bin/python"
    if not args.envlock.is_file():
        sys.exit(f"error: no envlock binary at {args.envlock}; run `cargo build --release`")
    if not (args.channel / "noarch/repodata.json").is_file():
        sys.exit(f"error: {args.channel} is not a conda channel; pass --channel DIR")
    for path in (args.uv, args.pip_compile, args.venv_python):
        if not path.is_file():
            sys.exit(f"error: {path} not found; set up the venv as in bench/README.md or pass --venv/--uv/--pip-compile")
    if args.runs < 1 or args.runs_pip_compile < 0:
        sys.exit("error: --runs must be at least 1 and --runs-pip-compile at least 0")
    args.runs_of = {"envlock": args.runs, "uv": args.runs, "pip-compile": args.runs_pip_compile}
    scenarios = [s for s in SCENARIOS if not args.scenario or s.key in args.scenario]

    meta = {"versions": tool_versions(args), "runs": args.runs_of, "exclude_newer": EXCLUDE_NEWER}
    if meta["versions"]["python (pip-compile)"] != UV_PYTHON_VERSION:
        log(
            f"warning: pip-compile runs under Python {meta['versions']['python (pip-compile)']}, "
            f"not {UV_PYTHON_VERSION}; its markers and versions may differ"
        )
    with tempfile.TemporaryDirectory(prefix="envlock-bench-pypi-") as tmp:
        try:
            results, versions, problems = measure(args, Path(tmp), scenarios)
        except ToolFailed as e:
            log(f"error: {e}")
            return 2

    if args.json:
        print(json.dumps({"meta": meta, "results": results, "versions": versions, "mismatches": problems}, indent=2))
    else:
        print_table(results, versions, meta, problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())
