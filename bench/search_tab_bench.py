"""CPU cost of searching a portal's keywords in one shared tab against a new tab per keyword.

search_accuracy searches every keyword of ``config/keywords.yaml`` from the portal's home page.
It did so in a new tab per keyword; it now keeps one tab (:class:`probes.search.observe.SearchTab`).
This bench measures what that saves. Each side runs in a child process of its own (its own
Chromium), one after the other in one invocation, alternating which goes first. The CPU time of a
side is the whole machine's busy time while it ran (``/proc/stat``): Chromium's renderers are
reaped by its zygote, so ``getrusage`` of the child misses most of the browser's work. That
counts the sandbox serving the pages too (the same on both sides) and anything else the machine
runs meanwhile: run it on a quiet machine, and read the pairs' spread.

Printed: the median CPU seconds per keyword of each side, their ratio (new tab / shared tab) and
every pair's ratio. The findings are the same either way: each keyword still starts from the
home page (the test ``test_keywords_share_one_tab_until_one_ends_in_an_error`` holds that).

    .venv/bin/python bench/search_tab_bench.py [sbx-shu] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from machine import alternating, busy_cpu  # noqa: E402  (bench/, the script's own directory)

SIDES = ("shared", "new")


async def _search(side: str, home_url: str, keywords: list[str]) -> int:
    """Every keyword in one tab (``shared``) or each in a tab of its own (``new``); the number
    of keywords that read a result list or a no-results text."""
    from playwright.async_api import async_playwright

    from probes.search.observe import SearchSettings, SearchTab, observe_keyword
    from zwaudit.browser import LAUNCH_ARGS

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=list(LAUNCH_ARGS))
        context = await browser.new_context(ignore_https_errors=True)  # the sandbox's own CA
        tab = SearchTab(context) if side == "shared" else None
        settings = SearchSettings(home_url=home_url)
        read = 0
        for keyword in keywords:
            obs = await observe_keyword(context, keyword, settings, tab=tab)
            read += obs.error is None
        if tab is not None:
            await tab.retire()
        await browser.close()
        return read


def child(side: str, home_url: str, keywords: list[str]) -> None:
    read = asyncio.run(_search(side, home_url, keywords))
    print(read)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("province", nargs="?", default="sbx-shu")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from probes.search.keywords import load_keywords
    from sandbox.server import start
    from zwaudit.config import load_config

    keywords = [k.keyword for k in load_keywords(PROJECT_ROOT / "config" / "keywords.yaml").keywords]
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = start([args.province], base_port=0, directory=Path(tmp) / "sandbox")
        try:
            home = str(load_config(sandbox.config_dir).portals[args.province].home_url)
            cpu: dict[str, list[float]] = {side: [] for side in SIDES}
            read: set[str] = set()
            for _, side in alternating(SIDES, args.repeat):
                before = busy_cpu()
                out = subprocess.run(
                    [sys.executable, __file__, "--child", side, home, *keywords],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                cpu[side].append((busy_cpu() - before) / len(keywords))
                read.add(f"{side} {out.stdout.strip()}/{len(keywords)}")
                print(f"  {side:6s} {cpu[side][-1]:.2f} CPU-s a keyword, {out.stdout.strip()} read")
        finally:
            sandbox.stop()
    shared, new = (statistics.median(cpu[s]) for s in SIDES)
    print(
        f"{args.province}, {len(keywords)} keywords, {args.repeat} pairs (keywords read: {', '.join(sorted(read))})"
    )
    print(f"  shared tab  {shared:.2f} CPU-s a keyword (median)")
    print(f"  new tabs    {new:.2f} CPU-s a keyword (median)")
    print(f"  new / shared = {new / shared:.2f}")
    print("  pairs: " + ", ".join(f"{n / s:.2f}" for s, n in zip(cpu["shared"], cpu["new"], strict=True)))


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        main(sys.argv[1:])
