"""CPU cost of crawling a hash-routed portal with its routes drawn in place against loaded afresh.

The crawler draws a hash-routed app's routes in the tab that holds the app once the app has shown
the same text both ways (:mod:`crawler.routes`); ``crawl.routes_in_place: false`` in a profile
loads every route afresh, as before. This bench crawls one sandbox province's portal channel both
ways, each crawl a subprocess of its own (its own Chromium) into a fresh SQLite database, one
after the other in one invocation, alternating which side goes first.

The CPU of a side is the whole machine's busy time while its crawl ran (``/proc/stat``):
Chromium's renderers are reaped by its zygote, so ``getrusage`` misses most of the browser's work.
That counts the sandbox serving the pages too (the same on both sides) and anything else the
machine runs meanwhile: run it on a quiet machine, and read the pairs' spread.

Printed: each side's median CPU seconds, their ratio (afresh / in place), every pair's ratio, and
whether both sides stored the same items (name, code, department, every guide field, source URL)
and the same pages (URL, status, error, depth): a saving that changed what is read would be no
saving.

    .venv/bin/python bench/routes_bench.py [sbx-zhe] [--repeat 3] [--all-channels]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from machine import alternating, measured_crawl, report_sides  # noqa: E402  (bench/, the script's own directory)

SIDES = ("in_place", "afresh")


def _config_for(source: Path, dest: Path, province: str, in_place: bool) -> Path:
    shutil.copytree(source, dest)
    (dest / "secrets.yaml").chmod(0o600)
    profile_path = dest / "portals" / f"{province}.yaml"
    profile = yaml.safe_load(profile_path.read_text(encoding="utf-8"))
    profile.setdefault("crawl", {})["routes_in_place"] = in_place
    profile_path.write_text(yaml.safe_dump(profile, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dest


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("province", nargs="?", default="sbx-zhe")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--all-channels", action="store_true", help="the department sites and mobile too")
    args = parser.parse_args(argv)
    channels: tuple[str, ...] = () if args.all_channels else ("portal",)

    from sandbox.server import start

    cpu: dict[str, list[float]] = {side: [] for side in SIDES}
    stored: dict[str, set[tuple[str, str, int]]] = {side: set() for side in SIDES}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["ZWAUDIT_VAR"] = str(root / "var")  # the crawl's job directories
        sandbox = start([args.province], base_port=0, directory=root / "sandbox")
        try:
            configs = {
                side: _config_for(
                    sandbox.config_dir, root / f"config-{side}", args.province, side == "in_place"
                )
                for side in SIDES
            }
            for i, side in alternating(SIDES, args.repeat):
                seconds, items, pages, count = measured_crawl(
                    configs[side], root / f"{side}-{i}.sqlite", [args.province], channels
                )
                cpu[side].append(seconds)
                stored[side].add((items, pages, count))
                print(f"  {side:8s} {seconds:5.1f} CPU-s  {count} items  items {items}  pages {pages}")
        finally:
            sandbox.stop()
    report_sides(
        f"{args.province}, {'every channel' if channels == () else 'portal channel'}, {args.repeat} pairs",
        {"in_place": "routes in place", "afresh": "routes afresh"},
        cpu,
        stored,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
