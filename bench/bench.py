#!/usr/bin/env python3
"""Times `envlock resolve` against the same solve done through py-rattler.

Both tools fetch real conda-forge repodata snapshots (../shared/fixtures/channels) from a local
HTTP server, solve with rattler's resolvo solver (strict channel priority, highest versions,
the same virtual packages) and write a lock file. Every measurement is a separate process, so
start-up is included on both sides. py-rattler, measured in the same run on the same machine,
is the anchor: the output is the ratio envlock / py-rattler, not absolute speed.

Usage, from the repository root:

    python3 bench/bench.py --envlock target/release/envlock --python /tmp/venv-bench/bin/python

Only the Python standard library is needed here; py-rattler has to be installed for --python.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import collections
import functools
import http.server
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORKER = BENCH_DIR / "pyrattler_resolve.py"

# envlock's fixed virtual-package table (docs/resolve.md, src/inputs/target.rs), spelled out for
# py-rattler, which would otherwise detect them from this machine. BUILD is 0 unless given.
VIRTUAL_PACKAGES = {
    "linux-64": ["__unix=0=0", "__linux=4.18=0", "__glibc=2.28=0", "__archspec=1=x86_64"],
    "linux-aarch64": ["__unix=0=0", "__linux=4.18=0", "__glibc=2.28=0", "__archspec=1=aarch64"],
    "osx-arm64": ["__unix=0=0", "__osx=11.0=0", "__archspec=1=m1"],
    "win-64": ["__win=10.0=0", "__archspec=1=x86_64"],
}


@dataclass
class Scenario:
    key: str
    title: str
    channel: str  # directory under --channels, and the channel name envlock resolves via the alias
    specs: list[str]
    platforms: list[str]
    # Applied to every platform, as envlock's --virtual-package does.
    vpkg_overrides: list[str] = field(default_factory=list)
    # Package counts an independent solver gives (shared/fixtures/README.md); None = not published.
    expected: dict[str, int] = field(default_factory=dict)

    def virtual_packages(self, platform: str) -> list[str]:
        table = {v.split("=", 1)[0]: v for v in VIRTUAL_PACKAGES[platform]}
        for override in self.vpkg_overrides:
            name, rest = override.split("=", 1)
            table[name] = override if "=" in rest else f"{override}=0"
        return list(table.values())


SCENARIOS = [
    Scenario(
        key="a",
        title="python=3.9 pip, 4 platforms",
        channel="conda-forge-py39",
        specs=["python=3.9", "pip"],
        platforms=["linux-64", "linux-aarch64", "osx-arm64", "win-64"],
        expected={"linux-64": 23, "osx-arm64": 15},
    ),
    Scenario(
        key="b",
        title="numpy, linux-64, __glibc=2.28",
        channel="conda-forge-numpy",
        specs=["numpy"],
        platforms=["linux-64"],
        vpkg_overrides=["__glibc=2.28"],
        expected={"linux-64": 30},
    ),
]

TOOLS = ("envlock", "py-rattler")


# --------------------------------------------------------------------------------------------
# HTTP server: the channels directory on 127.0.0.1, counting requests by (tag, method, status).


class ChannelServer:
    """A static server for the channels directory, in a background thread.

    Python's handler answers `If-Modified-Since` with 304 and sends no ETag or Cache-Control,
    so a warm cache revalidates every repodata.json with one conditional GET.
    """

    def __init__(self, root: Path):
        self.tag = "idle"  # which measurement the incoming requests belong to
        self.hits: collections.Counter[tuple[str, str, int]] = collections.Counter()
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):
                # Called once per response (send_error goes through here too).
                with server._lock:
                    server.hits[(server.tag, self.command, int(code))] += 1

            def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
                pass  # quiet: the benchmark output is the table

        class Server(http.server.ThreadingHTTPServer):
            # The stdlib's listen backlog is 5. Both tools open ~20 connections at once on a
            # cold 4-platform resolve (shard probes, HEAD probes for .zst/.bz2, GETs); beyond
            # the backlog the kernel drops the SYN and the client retries it after 1 s, which
            # would add whole seconds at random to either tool. Real channels do not do that.
            request_queue_size = 128

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ChannelServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def requests(self, tag: str) -> dict[str, int]:
        """Requests seen under `tag`, as {"GET 200": n, "HEAD 404": n, ...}."""
        with self._lock:
            return {
                f"{method} {status}": n
                for (t, method, status), n in sorted(self.hits.items())
                if t == tag
            }


# --------------------------------------------------------------------------------------------
# One run of each tool. Each returns (seconds, {platform: ["name version build", ...]}); the
# package lists are complete only for envlock when verbose (counts otherwise).


class ToolFailed(Exception):
    pass


def run_timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise ToolFailed(
            f"command failed with exit code {proc.returncode}: {' '.join(cmd)}\n"
            f"{proc.stderr.strip()}\n{proc.stdout.strip()}"
        )
    return elapsed, proc


def write_environment_yml(scenario: Scenario, path: Path) -> None:
    deps = "".join(f"  - {spec}\n" for spec in scenario.specs)
    path.write_text(f"name: bench\nchannels:\n  - {scenario.channel}\ndependencies:\n{deps}")


def run_envlock(
    args, scenario: Scenario, url: str, work: Path, cache: Path, verbose: bool = False
) -> tuple[float, dict[str, list[str]]]:
    env_file = work / f"environment-{scenario.key}.yml"
    if not env_file.exists():
        write_environment_yml(scenario, env_file)
    cmd = [str(args.envlock), "resolve", str(env_file), "--color", "never"]
    cmd += ["--channel-alias", url, "--cache-dir", str(cache)]
    cmd += ["--lockfile", str(work / f"conda-lock-{scenario.key}.yml")]
    for platform in scenario.platforms:
        cmd += ["-p", platform]
    for vpkg in scenario.vpkg_overrides:
        cmd += ["--virtual-package", vpkg]
    if verbose:
        cmd.append("-v")
    elapsed, proc = run_timed(cmd, work)
    return elapsed, parse_envlock_output(proc.stderr, verbose)


def parse_envlock_output(stderr: str, verbose: bool) -> dict[str, list[str]]:
    """Reads `Locked linux-64 (23 packages), ...` and, with -v, the package lines after it."""
    counts = dict(re.findall(r"([\w-]+) \((\d+) packages\)", stderr))
    if not counts:
        raise ToolFailed(f"could not find package counts in envlock's output:\n{stderr}")
    if not verbose:
        # Placeholders: only the count is known.
        return {p: [""] * int(n) for p, n in counts.items()}
    packages: dict[str, list[str]] = {}
    current = None
    for line in stderr.splitlines():
        if re.fullmatch(r"[\w-]+:", line):
            current = packages.setdefault(line[:-1], [])
        elif line.startswith("  ") and current is not None:
            current.append(line.strip())
    return packages


def run_pyrattler(
    args, scenario: Scenario, url: str, work: Path, cache: Path
) -> tuple[float, dict[str, list[str]]]:
    cmd = [str(args.python), str(WORKER)]
    cmd += ["--channel", f"{url}/{scenario.channel}", "--cache-dir", str(cache)]
    cmd += ["--lockfile", str(work / f"pixi-{scenario.key}.lock")]
    for spec in scenario.specs:
        cmd += ["--spec", spec]
    for platform in scenario.platforms:
        cmd += ["--platform", f"{platform}:{','.join(scenario.virtual_packages(platform))}"]
    elapsed, proc = run_timed(cmd, work)
    return elapsed, json.loads(proc.stdout)


# --------------------------------------------------------------------------------------------
# Measurements


def fresh_dir(parent: Path, name: str) -> Path:
    path = parent / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def measure(args, server: ChannelServer, work: Path) -> tuple[list[dict], list[str]]:
    runners = {"envlock": run_envlock, "py-rattler": run_pyrattler}
    results: list[dict] = []
    problems: list[str] = []

    for scenario in SCENARIOS:
        # Warm caches: one untimed run per tool fills them. envlock runs verbose here so that
        # the exact solutions (not just counts) can be compared.
        warm_cache = {tool: fresh_dir(work, f"warm-{scenario.key}-{tool}") for tool in TOOLS}
        server.tag = f"{scenario.key}/prime"
        _, env_pkgs = run_envlock(args, scenario, server.url, work, warm_cache["envlock"], True)
        _, rat_pkgs = run_pyrattler(args, scenario, server.url, work, warm_cache["py-rattler"])
        problems += compare_solutions(scenario, env_pkgs, rat_pkgs)
        problems += compare_virtual_packages(scenario, work / f"conda-lock-{scenario.key}.yml")

        for mode in ("cold", "warm"):
            times: dict[str, list[float]] = {tool: [] for tool in TOOLS}
            for i in range(args.runs):
                # Alternate the tools so that drift (thermal, other load) hits both alike.
                for tool in TOOLS:
                    if mode == "cold":
                        cache = fresh_dir(work, f"cold-{tool}")
                    else:
                        cache = warm_cache[tool]
                    server.tag = f"{scenario.key}/{mode}/{tool}"
                    elapsed, pkgs = runners[tool](args, scenario, server.url, work, cache)
                    times[tool].append(elapsed)
                    counts = {p: len(v) for p, v in pkgs.items()}
                    expected = {p: len(v) for p, v in (env_pkgs if tool == "envlock" else rat_pkgs).items()}
                    if counts != expected:
                        problems.append(
                            f"{scenario.key} {mode} run {i + 1}: {tool} locked {counts}, "
                            f"its first run locked {expected}"
                        )
                    log(f"  {scenario.key} {mode:4} {tool:10} run {i + 1}/{args.runs}: {elapsed:.3f}s")

            row = {
                "scenario": scenario.key,
                "title": scenario.title,
                "cache": mode,
                "packages": {p: len(v) for p, v in env_pkgs.items()},
            }
            for tool in TOOLS:
                reqs = server.requests(f"{scenario.key}/{mode}/{tool}")
                row[tool] = {
                    "median_s": statistics.median(times[tool]),
                    "min_s": min(times[tool]),
                    "runs_s": times[tool],
                    "http_requests_per_run": {k: v / args.runs for k, v in reqs.items()},
                }
            row["ratio_median"] = row["envlock"]["median_s"] / row["py-rattler"]["median_s"]
            results.append(row)
    return results, problems


def compare_solutions(
    scenario: Scenario, envlock: dict[str, list[str]], rattler: dict[str, list[str]]
) -> list[str]:
    """Both tools must lock the same records; counts must match the fixtures' README."""
    problems = []
    for platform in scenario.platforms:
        e, r = set(envlock.get(platform, [])), set(rattler.get(platform, []))
        if e != r:
            problems.append(
                f"{scenario.key} {platform}: envlock locked {len(e)} packages, py-rattler {len(r)}; "
                f"only envlock: {sorted(e - r)}; only py-rattler: {sorted(r - e)}"
            )
        want = scenario.expected.get(platform)
        for tool, got in (("envlock", len(e)), ("py-rattler", len(r))):
            if want is not None and got != want:
                problems.append(
                    f"{scenario.key} {platform}: {tool} locked {got} packages, the fixtures' README expects {want}"
                )
    return problems


def compare_virtual_packages(scenario: Scenario, lockfile: Path) -> list[str]:
    """py-rattler must solve against the virtual packages envlock used, which envlock records
    in its lockfile as `envlock.virtual_packages.<platform>: a,b,c` metadata."""
    recorded = dict(re.findall(r"envlock\.virtual_packages\.([\w-]+): (\S+)", lockfile.read_text()))
    problems = []
    for platform in scenario.platforms:
        ours = sorted(scenario.virtual_packages(platform))
        theirs = sorted(recorded.get(platform, "").split(","))
        if ours != theirs:
            problems.append(
                f"{scenario.key} {platform}: py-rattler got virtual packages {ours}, envlock used {theirs}"
            )
    return problems


def measure_import(args) -> list[float]:
    """The fixed cost on the py-rattler side: interpreter start-up plus `import rattler`."""
    cmd = [str(args.python), "-c", "import rattler"]
    return [run_timed(cmd, REPO_ROOT)[0] for _ in range(args.runs)]


# --------------------------------------------------------------------------------------------
# Output


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tool_versions(args) -> dict[str, str]:
    envlock = subprocess.run([str(args.envlock), "--version"], capture_output=True, text=True)
    rattler = subprocess.run(
        [str(args.python), "-c", "import rattler, sys; print(rattler.__version__, sys.version.split()[0])"],
        capture_output=True,
        text=True,
    )
    if rattler.returncode != 0:
        sys.exit(f"error: `{args.python}` cannot import rattler; see bench/README.md\n{rattler.stderr}")
    rattler_version, python_version = rattler.stdout.split()
    return {
        "envlock": envlock.stdout.strip(),
        "py-rattler": rattler_version,
        "python": python_version,
    }


def print_table(results: list[dict], meta: dict, problems: list[str]) -> None:
    print(
        f"envlock resolve vs py-rattler {meta['versions']['py-rattler']} "
        f"(python {meta['versions']['python']}), {meta['runs']} runs each, "
        f"channels served from {meta['channels']} over HTTP on 127.0.0.1"
    )
    print("times in seconds per process; ratio = envlock median / py-rattler median (< 1: envlock faster)")
    print(
        f"py-rattler's fixed cost, `python -c 'import rattler'`: median {meta['pyrattler_import_s']['median_s']:.3f}"
    )
    print()
    header = (
        f"{'scenario':34} {'cache':5} {'packages':>12} "
        f"{'envlock med':>11} {'min':>6} {'py-rattler med':>14} {'min':>6} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        e, p = r["envlock"], r["py-rattler"]
        packages = "/".join(str(n) for n in r["packages"].values())
        print(
            f"{r['scenario'] + ': ' + r['title']:34} {r['cache']:5} {packages:>12} "
            f"{e['median_s']:11.3f} {e['min_s']:6.3f} {p['median_s']:14.3f} {p['min_s']:6.3f} "
            f"{r['ratio_median']:6.2f}"
        )
    print()
    print("HTTP requests per run (method status x count):")
    for r in results:
        for tool in TOOLS:
            reqs = ", ".join(f"{k} x{v:g}" for k, v in r[tool]["http_requests_per_run"].items())
            print(f"  {r['scenario']} {r['cache']:4} {tool:10} {reqs or 'none'}")
    print()
    if problems:
        print("!!! MISMATCH: envlock and py-rattler did not do the same work; the ratios are suspect !!!")
        for problem in problems:
            print(f"!!! {problem}")
    else:
        print("checks: identical locked packages and virtual packages on every platform, counts as expected")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--envlock", type=Path, default=REPO_ROOT / "target/release/envlock", help="envlock binary"
    )
    parser.add_argument(
        "--python", default="python3", help="a Python with py-rattler installed [default: python3]"
    )
    parser.add_argument(
        "--channels",
        type=Path,
        default=REPO_ROOT / "../shared/fixtures/channels",
        help="directory holding conda-forge-py39/ and conda-forge-numpy/ [default: ../shared/fixtures/channels]",
    )
    parser.add_argument("--runs", type=int, default=5, help="measurements per tool and case [default: 5]")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    args = parser.parse_args()

    args.envlock = args.envlock.resolve()
    args.channels = args.channels.resolve()
    if not args.envlock.is_file():
        sys.exit(f"error: no envlock binary at {args.envlock}; run `cargo build --release`")
    for scenario in SCENARIOS:
        if not (args.channels / scenario.channel).is_dir():
            sys.exit(f"error: {args.channels / scenario.channel} not found; pass --channels DIR")
    if args.runs < 1:
        sys.exit("error: --runs must be at least 1")

    meta = {"versions": tool_versions(args), "runs": args.runs, "channels": str(args.channels)}
    with tempfile.TemporaryDirectory(prefix="envlock-bench-") as tmp, ChannelServer(args.channels) as server:
        try:
            imports = measure_import(args)
            meta["pyrattler_import_s"] = {"median_s": statistics.median(imports), "min_s": min(imports)}
            results, problems = measure(args, server, Path(tmp))
        except ToolFailed as e:
            log(f"error: {e}")
            return 2

    if args.json:
        print(json.dumps({"meta": meta, "results": results, "mismatches": problems}, indent=2))
    else:
        print_table(results, meta, problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())
