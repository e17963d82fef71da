"""The py-rattler side of the benchmark: one end-to-end resolve, like `envlock resolve`.

bench.py runs this file in a fresh interpreter for every measurement, so interpreter start-up and
`import rattler` are timed just as envlock's process start-up is. It does what envlock does for
an environment.yml: fetch repodata through a cached Gateway, solve every platform (concurrently;
envlock also queries and solves platforms in parallel) with strict channel priority and highest
versions against a fixed set of virtual packages, and write a lock file.

py-rattler 0.28 can only write rattler's own lock format (pixi.lock), not conda-lock v1, so that
is what is written. On stdout it prints one JSON object {platform: ["name version build", ...]}
so bench.py can compare the solutions with envlock's.

Kept free of non-stdlib imports besides rattler, and of anything bench.py needs, so that only
the work being compared is timed.
"""

import argparse
import asyncio
import json

import rattler


def virtual_package(text: str) -> rattler.GenericVirtualPackage:
    """`NAME=VERSION[=BUILD]`, the same syntax as envlock's --virtual-package (BUILD defaults to 0)."""
    name, version, *build = text.split("=", 2)
    return rattler.GenericVirtualPackage(
        rattler.PackageName(name),
        rattler.Version(version),
        rattler.BuildString(build[0] if build else "0"),
    )


async def resolve(args: argparse.Namespace) -> dict[str, list[str]]:
    gateway = rattler.Gateway(cache_dir=args.cache_dir)
    channels = [rattler.Channel(url) for url in args.channel]

    async def solve_one(platform: str, vpkgs: list[str]) -> list[rattler.RepoDataRecord]:
        # solve() queries the gateway (recursively, platform + noarch) and then runs resolvo.
        return await rattler.solve(
            sources=channels,
            specs=args.spec,
            gateway=gateway,
            platforms=[platform, "noarch"],
            virtual_packages=[virtual_package(v) for v in vpkgs],
            channel_priority=rattler.ChannelPriority.Strict,
            strategy="highest",
        )

    # --platform is PLATFORM:VPKG,VPKG,... so each platform carries its own virtual packages.
    targets = [(p, v.split(",") if v else []) for p, _, v in (t.partition(":") for t in args.platform)]
    solutions = await asyncio.gather(*(solve_one(p, v) for p, v in targets))

    lock_platforms = {p: rattler.LockPlatform(p, virtual_packages=v) for p, v in targets}
    lock = rattler.LockFile(list(lock_platforms.values()))
    lock.set_channels("default", [rattler.LockChannel(url) for url in args.channel])
    summary: dict[str, list[str]] = {}
    for (platform, _), records in zip(targets, solutions):
        records = sorted(records, key=lambda r: r.name.normalized)
        for record in records:
            lock.add_conda_package("default", lock_platforms[platform], record)
        summary[platform] = [f"{r.name.normalized} {r.version} {r.build}" for r in records]
    lock.to_path(args.lockfile)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channel", action="append", required=True, help="channel URL")
    parser.add_argument("--spec", action="append", required=True, help="match spec")
    parser.add_argument(
        "--platform",
        action="append",
        required=True,
        help="PLATFORM:VPKG,VPKG,... e.g. linux-64:__unix=0=0,__glibc=2.17=0",
    )
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--lockfile", required=True)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(resolve(args))))


if __name__ == "__main__":
    main()
