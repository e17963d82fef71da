#!/usr/bin/env python3
"""Times `envlock check` on a realistic project, against anchors measured in the same run.

The project: `python=3.9` + `pip` from the conda-forge snapshot in ../shared/fixtures/channels
(served over HTTP on 127.0.0.1), locked for linux-64, linux-aarch64, osx-arm64 and win-64, with
a rendered Dockerfile. `check` re-reads the inputs and the lock, checks every platform and
re-renders the Dockerfile files in memory; it never solves and never uses the network.

Anchors, in the same run: `envlock --version` (process start-up alone) and a warm
`envlock resolve` of the same project (what `resolve --check` saves when nothing drifted).

Usage, from the repository root:

    python3 bench/check.py --envlock target/release/envlock
"""

from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = ["linux-64", "linux-aarch64", "osx-arm64", "win-64"]


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
    parser.add_argument("--channels", default=str(REPO_ROOT.parent / "shared/fixtures/channels"))
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    envlock = str(Path(args.envlock).resolve())

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
        (work / "environment.yml").write_text(
            "channels: [conda-forge-py39]\ndependencies:\n  - python=3.9\n  - pip\n"
        )
        common = ["--channel-alias", alias, "--cache-dir", str(work / "cache")]
        for p in PLATFORMS:
            common += ["-p", p]
        timed([envlock, "resolve", *common], work)
        timed([envlock, "dockerfile", "--entrypoint", "conda-run"], work)

        def median_min(cmd: list[str]) -> tuple[float, float]:
            times = [timed(cmd, work) for _ in range(args.runs)]
            return statistics.median(times), min(times)

        check = median_min([envlock, "check", *common])
        version = median_min([envlock, "--version"])
        resolve = median_min([envlock, "resolve", *common])
    server.shutdown()

    print(f"envlock check on python=3.9 + pip, {len(PLATFORMS)} platforms, Dockerfile rendered; {args.runs} runs each")
    print(f"{'command':<34} {'median ms':>10} {'min ms':>8}")
    for name, (med, low) in [
        ("envlock check", check),
        ("envlock --version (start-up)", version),
        ("envlock resolve (warm cache)", resolve),
    ]:
        print(f"{name:<34} {med * 1000:>10.1f} {low * 1000:>8.1f}")
    print(f"check / resolve warm: {check[0] / resolve[0]:.2f}; check minus start-up: {(check[0] - version[0]) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
