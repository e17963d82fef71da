#!/usr/bin/env python3
"""Times `envlock check`, `diff` and `dockerfile --locked` on a 197-package lock, against anchors
measured in the same run.

The project: `python=3.9`, `pip`, `curl`, `zstd`, `lz4-c`, `packaging`, `six` and `certifi` from
the conda-forge snapshot in ../shared/fixtures/channels (served over HTTP on 127.0.0.1), locked
for linux-64, linux-aarch64, linux-ppc64le, osx-64, osx-arm64 and win-64 (197 packages, 86 KB of
YAML), with a rendered Dockerfile. `check` re-reads the inputs and the lock, checks every
platform and re-renders the Dockerfile files in memory; it never solves and never uses the
network. `diff` compares that lock with one solved with an earlier `--exclude-newer`.

Anchors, in the same run:
- PyYAML's C loader (`yaml.CSafeLoader`, libyaml) reading the same lock, a whole Python process,
  and `python3 -c 'import yaml'` (its start-up), so that the ratio `check / PyYAML load` says how
  a whole `check` compares with merely parsing the file in a common tool;
- `envlock --version` (envlock's process start-up alone);
- a warm `envlock resolve` of the same project (what `resolve --check` saves when nothing drifted).

`--before PATH` also times another envlock binary (e.g. a build of main) on the same files, runs
interleaved, and prints the ratios new / before.

Usage, from the repository root:

    python3 bench/check.py --envlock target/release/envlock [--before OTHER] [--runs 20]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = ["linux-64", "linux-aarch64", "linux-ppc64le", "osx-64", "osx-arm64", "win-64"]
DEPENDENCIES = ["python=3.9", "pip", "curl", "zstd", "lz4-c", "packaging", "six", "certifi"]


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envlock", default=str(REPO_ROOT / "target/release/envlock"))
    parser.add_argument("--before", help="another envlock binary to compare with")
    parser.add_argument("--channels", default=str(REPO_ROOT.parent / "shared/fixtures/channels"))
    parser.add_argument("--python", default=sys.executable, help="a Python with PyYAML (libyaml)")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    envlock = str(Path(args.envlock).resolve())
    before = str(Path(args.before).resolve()) if args.before else None
    probe = subprocess.run(
        [args.python, "-c", "import yaml; assert yaml.__with_libyaml__"], capture_output=True
    )
    if probe.returncode != 0:
        sys.exit(f"{args.python} has no PyYAML with libyaml (pip install pyyaml)")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            pass

    handler = functools.partial(Quiet, directory=args.channels)
    # A deep listen queue: the default of 5 drops connections when several subdirs load at once.
    http.server.ThreadingHTTPServer.request_queue_size = 128
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    alias = f"http://127.0.0.1:{server.server_address[1]}"

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        deps = "".join(f"  - {d}\n" for d in DEPENDENCIES)
        (work / "environment.yml").write_text(f"channels: [conda-forge-py39]\ndependencies:\n{deps}")
        common = ["--channel-alias", alias, "--cache-dir", str(work / "cache")]
        for p in PLATFORMS:
            common += ["-p", p]
        timed([envlock, "resolve", *common, "--exclude-newer", "2023-06-01"], work)
        shutil.move(work / "conda-lock.yml", work / "old.yml")
        timed([envlock, "resolve", *common], work)
        timed([envlock, "dockerfile", "--entrypoint", "conda-run"], work)
        lock = (work / "conda-lock.yml").read_text()
        packages = lock.count("\n  manager: ")

        commands: dict[str, list[str]] = {}
        binaries = [("", envlock)] + ([(" [before]", before)] if before else [])
        for suffix, binary in binaries:
            commands[f"envlock check{suffix}"] = [binary, "check", *common]
            commands[f"envlock diff{suffix}"] = [binary, "diff", "old.yml", "conda-lock.yml"]
            commands[f"envlock dockerfile --locked{suffix}"] = [binary, "dockerfile", "--locked"]
            commands[f"envlock --version{suffix}"] = [binary, "--version"]
        load = "import yaml; yaml.load(open('conda-lock.yml'), Loader=yaml.CSafeLoader)"
        commands["PyYAML CSafeLoader load"] = [args.python, "-c", load]
        commands["python -c 'import yaml'"] = [args.python, "-c", "import yaml"]
        commands["envlock resolve (warm cache)"] = [envlock, "resolve", *common]

        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            # Interleaved, so that a busy moment of the machine hits every command alike.
            for name, cmd in commands.items():
                times[name].append(timed(cmd, work))
    server.shutdown()

    med = {name: statistics.median(t) for name, t in times.items()}
    low = {name: min(t) for name, t in times.items()}
    print(f"{packages} packages, {len(PLATFORMS)} platforms, {len(lock) // 1000} KB lock; {args.runs} runs each")
    print(f"{'command':<40} {'median ms':>10} {'min ms':>8}")
    for name in commands:
        print(f"{name:<40} {med[name] * 1000:>10.1f} {low[name] * 1000:>8.1f}")
    anchor = med["PyYAML CSafeLoader load"]
    print(f"check / PyYAML load: {med['envlock check'] / anchor:.2f}")
    print(f"check / warm resolve: {med['envlock check'] / med['envlock resolve (warm cache)']:.2f}")
    startup = med["envlock --version"]
    python = med["python -c 'import yaml'"]
    print(f"check minus envlock start-up: {(med['envlock check'] - startup) * 1000:.1f} ms")
    print(f"PyYAML load minus its import: {(anchor - python) * 1000:.1f} ms")
    if before:
        for cmd in ["envlock check", "envlock diff", "envlock dockerfile --locked"]:
            print(f"{cmd}: new / before {med[cmd] / med[cmd + ' [before]']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
