#!/usr/bin/env python3
"""Counts how many real-world requirement sets envlock locks, against uv on the same target.

The corpus is a directory kept outside this repository (files taken unchanged from public
projects are not ours to commit):

    CORPUS/reqs/MAIN   one input per line, a requirements file's path relative to CORPUS/reqs
                       (a file beside its `-r`/`-c` includes may sit in a subdirectory)
    CORPUS/envs/MAIN   one conda environment.yml per line, relative to CORPUS/envs; only its
                       `pip:` section is locked (the conda channels are not reachable here)

Each input is locked for CPython 3.12 on linux-64 (manylinux_2_28) with packages published up
to 2026-06-01, twice:

- envlock: `envlock resolve requirements.txt -c fixtures/channels/pyconda --python 3.12
  -p linux-64 --exclude-newer 2026-06-01`, its default options otherwise (the channel is a
  copy with a current pip added, as conda-forge has: see `with_current_pip`);
- uv, the bar: `uv pip compile requirements.txt --generate-hashes --python-version 3.12.1
  --python-platform x86_64-manylinux_2_28 --exclude-newer 2026-06-01`.

Where envlock locks, its pins are handed back to uv as constraints (`uv pip compile
requirements.txt -c pins.txt`): uv must accept them as a consistent answer.

Both find CPython 3.12 first on their PATH (`--python312`; the one that builds sdists for
metadata), and uv downloads no interpreter.

Usage, from the repository root:

    python3 bench/realworld.py --envlock target/release/envlock --uv /tmp/uvenv/bin/uv \
        --python312 ~/.pyenv/versions/3.12.1/bin/python3.12 --corpus /work/realworld \
        [--jobs 2] [--only NAME] [--json out.json] [--cache DIR]

With `--install-uv-only`, each lock that only uv makes is then installed by uv itself (`uv pip
sync --require-hashes` into a new venv of that CPython 3.12): whether it is a lock a user can
install, or only one that ignored a Requires-Python bound.

Prints one line per input and the counts. Only the Python standard library is needed here.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from pypi import compare, parse_envlock_lock, parse_pins  # noqa: E402

ENVLOCK_PYTHON = "3.12"
UV_PYTHON_VERSION = "3.12.1"  # the pyconda channel's python 3.12
CONDA_PLATFORM = "linux-64"
UV_PLATFORM = "x86_64-manylinux_2_28"
EXCLUDE_NEWER = "2026-06-01"


# The newest pip on PyPI for CPython 3.12 before EXCLUDE_NEWER, which conda-forge had too.
CONDA_FORGE_PIP = "26.1.2"


def with_current_pip(root: Path) -> Path:
    """A copy of the fixture channel `pyconda` under `root`, with a record of pip
    CONDA_FORGE_PIP beside its pip 24.0, and returns it. A conda-forge user's env gets the newest
    pip; with 24.0 alone, a requirement on pip>=24.2 (pipdeptree 2.23.4) fails only here. The
    record's hashes name no real file: nothing is installed from this channel."""
    channel = root / "pyconda"
    shutil.copytree(REPO_ROOT / "fixtures/channels/pyconda", channel)
    noarch = channel / "noarch/repodata.json"
    repodata = json.loads(noarch.read_text())
    old = repodata["packages.conda"]["pip-24.0-pyhd8ed1ab_0.conda"]
    filename = f"pip-{CONDA_FORGE_PIP}-pyh8b19718_0.conda"
    repodata["packages.conda"][filename] = {
        **old,
        "build": "pyh8b19718_0",
        "depends": ["python >=3.9"],
        "version": CONDA_FORGE_PIP,
        "md5": "0" * 32,
        "sha256": "0" * 64,
    }
    noarch.write_text(json.dumps(repodata, indent=1))
    return channel


def pip_section(text: str) -> list[str] | None:
    """The entries of an environment.yml's `- pip:` list, without a YAML library: the lines
    indented under `- pip:` that start with `- `. Quotes around an entry are removed."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)-\s+pip\s*:\s*(#.*)?$", line)
        if not m:
            continue
        indent = len(m[1])
        entries = []
        for item in lines[i + 1 :]:
            if not item.strip() or item.lstrip().startswith("#"):
                continue
            if len(item) - len(item.lstrip()) <= indent:
                break
            im = re.match(r"^\s*-\s+(.*?)\s*$", item)
            if im:
                value = re.sub(r"\s+#.*$", "", im[1])
                if value[:1] in "'\"" and value[-1:] == value[:1]:
                    value = value[1:-1]
                entries.append(value)
        return entries
    return None


def prepare(kind: str, corpus: Path, rel: str, work: Path) -> Path:
    """Copies the input's directory into `work` and returns the requirements file to lock."""
    src = corpus / kind / rel
    top = corpus / kind / Path(rel).parts[0]
    if top.is_dir():  # a file with its includes, under their original relative paths
        shutil.copytree(top, work, dirs_exist_ok=True)
        base = work / Path(*Path(rel).parts[1:])
    else:
        base = work / src.name
        shutil.copy(src, base)
    if kind == "reqs":
        return base
    entries = pip_section(src.read_text(errors="replace")) or []
    out = base.parent / "requirements-from-pip-section.txt"
    out.write_text("".join(e + "\n" for e in entries))
    return out


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[bool, float, str]:
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, time.perf_counter() - start, f"timed out after {timeout:.0f} s"
    elapsed = time.perf_counter() - start
    return proc.returncode == 0, elapsed, (proc.stderr.strip() + "\n" + proc.stdout.strip()).strip()


def first_error(text: str) -> str:
    """The line a user reads first: envlock's `error:` line or uv's `×` line, else the last."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith(("error", "×", "Error")):
            if line.endswith(":") and i + 1 < len(lines):  # the reason is on the next line
                line = f"{line} {lines[i + 1]}"
            return line[:300]
    return (lines[-1] if lines else "")[:240]


def lock_one(args, kind: str, rel: str, caches: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="envlock-realworld-") as tmp:
        work = Path(tmp)
        reqs = prepare(kind, args.corpus, rel, work)
        cwd = reqs.parent
        env = dict(os.environ)
        env["PATH"] = f"{args.python_dir}{os.pathsep}{env.get('PATH', '')}"
        env["UV_CACHE_DIR"] = str(caches / "uv")
        env["UV_PYTHON_DOWNLOADS"] = "never"  # python-build-standalone is not reachable here
        env.pop("PIP_FIND_LINKS", None)
        uv_base = [
            str(args.uv), "pip", "compile", reqs.name, "--generate-hashes", "--no-config",
            "--python-version", UV_PYTHON_VERSION, "--python-platform", UV_PLATFORM,
            "--exclude-newer", EXCLUDE_NEWER,
        ]  # fmt: skip
        uv_ok, uv_s, uv_out = run(uv_base + ["-o", "uv.txt"], cwd, env, args.timeout)
        envlock = [
            str(args.envlock), "resolve", reqs.name, "--color", "never",
            "-c", str(args.channel), "--python", ENVLOCK_PYTHON, "-p", CONDA_PLATFORM,
            "--exclude-newer", EXCLUDE_NEWER, "--cache-dir", str(caches / "envlock"),
            "--lockfile", "conda-lock.yml",
        ]  # fmt: skip
        e_ok, e_s, e_out = run(envlock, cwd, env, args.timeout)
        row = {
            "input": f"{kind}/{rel}",
            "uv": {"ok": uv_ok, "seconds": round(uv_s, 2), "error": "" if uv_ok else first_error(uv_out)},
            "envlock": {"ok": e_ok, "seconds": round(e_s, 2), "error": "" if e_ok else first_error(e_out)},
        }
        if not e_ok:
            row["envlock"]["output"] = e_out[-3000:]
        if e_ok:
            pins = parse_envlock_lock((cwd / "conda-lock.yml").read_text(), CONDA_PLATFORM)
            row["envlock"]["packages"] = len(pins)
            (cwd / "envlock-pins.txt").write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
            ok, _, out = run(uv_base + ["-c", "envlock-pins.txt", "-o", "uv-check.txt"], cwd, env, args.timeout)
            row["consistent"] = ok
            if not ok:
                row["consistency_error"] = first_error(out)
            if uv_ok:
                theirs = parse_pins((cwd / "uv.txt").read_text())
                # pip comes from conda in envlock's lock (the env's own pip), not from PyPI.
                theirs.pop("pip", None)
                difference = compare(pins, theirs, "uv")
                row["same_pins"] = difference["same"]
                if not difference["same"]:
                    row["difference"] = difference["summary"]
        elif uv_ok:
            # Why envlock refuses uv's own answer: uv's pins as constraints.
            uv_pins = parse_pins((cwd / "uv.txt").read_text())
            (cwd / "uv-pins.txt").write_text("".join(f"{n}=={v}\n" for n, v in sorted(uv_pins.items())))
            (cwd / "with-uv-pins.txt").write_text(f"-r {reqs.name}\n-c uv-pins.txt\n")
            check = envlock[:]
            check[2] = "with-uv-pins.txt"
            check[-1] = "uv-pins-lock.yml"
            ok, _, out = run(check, cwd, env, args.timeout)
            reasons = [line.strip() for line in out.splitlines() if "requires Python" in line]
            row["uv_pins"] = (
                "envlock locks them"
                if ok
                else reasons[0][:240]
                if reasons
                else first_error(out)
            )
            row["uv_ignores_requires_python"] = bool(reasons)
            row["uv"]["lock"] = (cwd / "uv.txt").read_text()
        return row


def install_uv_lock(args, row: dict, caches: Path) -> tuple[bool, float, str]:
    """Installs uv's lock of an input only uv locks, with uv itself (`uv pip sync`, hashes
    checked), into a new venv of the CPython 3.12 the locks target: whether that lock is one a
    user can install."""
    with tempfile.TemporaryDirectory(prefix="envlock-realworld-install-") as tmp:
        work = Path(tmp)
        (work / "uv.txt").write_text(row["uv"]["lock"])
        env = dict(os.environ)
        env["UV_CACHE_DIR"] = str(caches / "uv")
        env["UV_PYTHON_DOWNLOADS"] = "never"
        env["PATH"] = f"{args.python_dir}{os.pathsep}{env.get('PATH', '')}"
        made = subprocess.run([str(args.python312), "-m", "venv", "--without-pip", str(work / "venv")],
                              capture_output=True, text=True)  # fmt: skip
        if made.returncode != 0:
            return False, 0.0, f"could not make a venv: {made.stderr.strip()[-240:]}"
        sync = [str(args.uv), "pip", "sync", "uv.txt", "--no-config", "--require-hashes",
                "--python", str(work / "venv/bin/python")]  # fmt: skip
        return run(sync, work, env, args.install_timeout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envlock", type=Path, default=REPO_ROOT / "target/release/envlock")
    parser.add_argument("--uv", type=Path, default=shutil.which("uv"))
    parser.add_argument("--corpus", type=Path, default=Path("/work/realworld"))
    parser.add_argument(
        "--channel",
        type=Path,
        help="the conda channel with python 3.12 and pip (default: fixtures/channels/pyconda "
        f"with pip {CONDA_FORGE_PIP} added, see with_current_pip)",
    )
    parser.add_argument(
        "--python312",
        type=Path,
        default=shutil.which("python3.12"),
        help="a CPython 3.12, put first on both tools' PATH: the one that builds sdists",
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--only", action="append", default=[], help="inputs whose path contains this")
    parser.add_argument("--kind", choices=["reqs", "envs"], action="append")
    parser.add_argument("--json", type=Path, help="write every row here")
    parser.add_argument("--cache", type=Path, help="shared cache directory (default: a new one)")
    parser.add_argument(
        "--install-uv-only",
        action="store_true",
        help="install each lock only uv makes with `uv pip sync` into a CPython 3.12 venv",
    )
    parser.add_argument("--install-timeout", type=float, default=900)
    args = parser.parse_args()
    args.envlock = args.envlock.resolve()
    if args.channel is None:
        args.channel = with_current_pip(Path(tempfile.mkdtemp(prefix="envlock-realworld-channel-")))
    args.channel = args.channel.resolve()
    args.corpus = args.corpus.resolve()
    if not args.uv:
        parser.error("uv not found: pass --uv")
    probe = subprocess.run(
        [str(args.python312 or "python3.12"), "-c", "import sys; print(sys.executable, sys.version_info[:2])"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0 or not probe.stdout.strip().endswith("(3, 12)"):
        parser.error("no runnable CPython 3.12: pass --python312 PATH")
    args.python_dir = Path(probe.stdout.split()[0]).parent

    inputs = []
    for kind in args.kind or ["reqs", "envs"]:
        main_list = args.corpus / kind / "MAIN"
        if not main_list.exists():
            continue
        for rel in main_list.read_text().split():
            if not args.only or any(o in rel for o in args.only):
                inputs.append((kind, rel))
    if not inputs:
        parser.error(f"no inputs under {args.corpus} (reqs/MAIN, envs/MAIN)")

    caches = args.cache or Path(tempfile.mkdtemp(prefix="envlock-realworld-cache-"))
    rows = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(lock_one, args, kind, rel, caches): (kind, rel) for kind, rel in inputs}
        for future in concurrent.futures.as_completed(futures):
            try:
                row = future.result()
            except Exception as e:  # a corpus entry that cannot be read: said, not counted
                print(f"skipped {futures[future][0]}/{futures[future][1]}: {e}", flush=True)
                continue
            rows.append(row)
            e, u = row["envlock"], row["uv"]
            mark = {(True, True): "both", (True, False): "envlock only", (False, True): "UV ONLY",
                    (False, False): "neither"}[(e["ok"], u["ok"])]  # fmt: skip
            extra = ""
            if e["ok"] and not row.get("consistent", True):
                extra = f"  INCONSISTENT: {row['consistency_error']}"
            elif not e["ok"]:
                extra = f"  envlock: {e['error']}"
            print(f"{mark:13} {e['seconds']:6.1f}s {u['seconds']:6.1f}s  {row['input']}{extra}", flush=True)

    if args.install_uv_only:
        for row in rows:
            if row["uv"]["ok"] and not row["envlock"]["ok"]:
                ok, seconds, out = install_uv_lock(args, row, caches)
                row["uv"]["installs"] = ok
                row["uv"]["install_error"] = "" if ok else first_error(out)
                print(f"uv's lock {'installs' if ok else 'DOES NOT INSTALL'} ({seconds:.0f} s): "
                      f"{row['input']} {row['uv']['install_error']}", flush=True)  # fmt: skip

    rows.sort(key=lambda r: r["input"])
    n = len(rows)
    e_ok = sum(r["envlock"]["ok"] for r in rows)
    u_ok = sum(r["uv"]["ok"] for r in rows)
    uv_only = [r for r in rows if r["uv"]["ok"] and not r["envlock"]["ok"]]
    envlock_only = [r for r in rows if r["envlock"]["ok"] and not r["uv"]["ok"]]
    inconsistent = [r for r in rows if r["envlock"]["ok"] and not r.get("consistent", True)]
    differ = [r for r in rows if r.get("same_pins") is False]
    print()
    print(f"inputs: {n}  envlock locks {e_ok} ({100 * e_ok / n:.0f}%)  uv locks {u_ok} ({100 * u_ok / n:.0f}%)")
    print(f"uv only: {len(uv_only)}  envlock only: {len(envlock_only)}  "
          f"envlock locks uv rejects as constraints: {len(inconsistent)}  "
          f"both lock, pins differ: {len(differ)}")  # fmt: skip
    ignores = [r for r in uv_only if r.get("uv_ignores_requires_python")]
    print(f"of the uv-only locks, {len(ignores)} pin a version whose Requires-Python excludes the "
          "target (uv ignores upper bounds; pip refuses to install it)")  # fmt: skip
    if args.install_uv_only:
        installs = [r for r in uv_only if r["uv"].get("installs")]
        print(f"of the uv-only locks, {len(installs)} install with `uv pip sync` on CPython 3.12")
    for r in uv_only:
        print(f"  uv only: {r['input']}: {r['envlock']['error']}\n      with uv's pins: {r.get('uv_pins')}")
        if "installs" in r["uv"]:
            print(f"      uv's lock installs: {r['uv']['installs']} {r['uv']['install_error']}")
    for r in differ:
        print(f"  pins differ: {r['input']}: {r['difference'][:400]}")
    for r in inconsistent:
        print(f"  inconsistent: {r['input']}: {r['consistency_error']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
