"""CPU cost of a crawl process whose portals share one Chromium against one Chromium per portal.

The crawl process runs a Scrapy crawler per portal; :mod:`crawler.browsers` makes every one of
them render in one browser (each in its own contexts). scrapy-playwright's own provider gives each
crawler a Playwright driver and a Chromium of its own. This bench crawls the portal channel of
several sandbox provinces both ways, each crawl a subprocess (as a run's) into a fresh SQLite
database, alternating which side goes first. The per-portal side is scrapy-playwright's default
provider put back by a ``sitecustomize`` module on that side's ``PYTHONPATH`` (the crawl has no
option for it: there is no reason to run it that way).

CPU is the machine's busy time while each crawl ran (``bench/machine.py``): run it on a quiet
machine and read the pairs' spread. Printed: each side's median, the ratio (per portal / shared),
every pair's ratio, how many browsers each side launched, and whether both sides stored the same
items and pages.

    .venv/bin/python bench/crawl_browsers_bench.py [--repeat 2] [province ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from machine import ChromiumCount, alternating, measured_crawl, pages_differing, report_sides  # noqa: E402  (bench/, the script's own directory)

SIDES = ("shared", "per_portal")
PER_PORTAL = (
    "import crawler.settings\n"
    "crawler.settings.PLAYWRIGHT_BROWSER_PROVIDER = 'scrapy_playwright.provider.PlaywrightBrowserProvider'\n"
)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("provinces", nargs="*", help="default: every sandbox-1 province")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)

    from sandbox.provinces import family_of
    from sandbox.server import start

    cpu: dict[str, list[float]] = {side: [] for side in SIDES}
    stored: dict[str, set[tuple[str, str, int]]] = {side: set() for side in SIDES}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["ZWAUDIT_VAR"] = str(root / "var")
        patch = root / "per-portal"
        patch.mkdir()
        (patch / "sitecustomize.py").write_text(PER_PORTAL, encoding="utf-8")
        sandbox = start(args.provinces or None, base_port=0, directory=root / "sandbox")
        provinces = [p for p in sandbox.portal_ids if args.provinces or family_of(p) == "sandbox-1"]
        base_path = os.environ.get("PYTHONPATH", "")
        databases: list[Path] = []
        try:
            for i, side in alternating(SIDES, args.repeat):
                paths = [str(PROJECT_ROOT), *([str(patch)] if side == "per_portal" else []), base_path]
                os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
                with ChromiumCount("browser") as browsers:
                    seconds, items, pages, count = measured_crawl(
                        sandbox.config_dir, root / f"{side}-{i}.sqlite", provinces, ("portal",)
                    )
                cpu[side].append(seconds)
                stored[side].add((items, pages, count))
                databases.append(root / f"{side}-{i}.sqlite")
                print(
                    f"  {side:10s} {seconds:5.1f} CPU-s  {len(browsers.seen)} browsers  {count} items  "
                    f"items {items}  pages {pages}"
                )
            for other in databases[1:]:  # what a crawl stored that the first did not, or left out
                for line in pages_differing(databases[0], other):
                    print(f"    {line}")
        finally:
            os.environ["PYTHONPATH"] = base_path
            sandbox.stop()
    report_sides(
        f"{len(provinces)} provinces, portal channel, {args.repeat} pairs",
        {"shared": "one shared browser", "per_portal": "a browser per portal"},
        cpu,
        stored,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
