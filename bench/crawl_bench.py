"""CPU cost of zwaudit's crawl against a bare Scrapy CrawlSpider over the same sandbox province.

Both run as subprocesses, one after the other, in one invocation, with the same politeness
settings. Two CPU times (user + system, ``getrusage``) are taken of each child:

* **crawl** — from ``CrawlerProcess.start()`` until it returns: the engine, the spider, the
  middlewares and the pipelines, i.e. the cost that grows with the number of pages. The target
  (zwaudit / bare ≤ 1.25) applies to this ratio.
* **process** — the whole child, start-up included (imports, config validation, the database
  connection): a fixed cost per crawl process, shown so that it is not hidden.

The bare spider follows every ``a[href]`` within the channels' origins and stores nothing;
zwaudit's also reads guides, resolves ``onclick`` links, checks off-site links and writes batches
to SQLite.

The comparison is like for like only on a province whose catalogue is server-rendered (sbx-shu,
the default). Where zwaudit has to render pages in Chromium (SPA shells, script-built frames:
sbx-zhe, sbx-min, sbx-jin, sbx-rong) the bare spider never reads those items at all, and the
ratio then measures the browser, not the spider.

One crawl of sbx-shu costs under a second of CPU, so one pair is noisy (1.01-1.24 seen on one
machine in one hour). The pair is therefore repeated (``--repeat``, default 9), alternating which
side goes first, each zwaudit crawl into a fresh run; the ratio of the medians is the figure, and
every pair's ratio is printed beside it.

    .venv/bin/python bench/crawl_bench.py [sbx-shu] [--repeat 9]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CRAWL_CPU_MARK = "bench-crawl-cpu "


def _own_cpu() -> float:
    """CPU of this process and of the children it has reaped (a browser, if one was started)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _measure_crawl_phase() -> None:
    """Patch ``CrawlerProcess.start`` to print the CPU spent inside it (on stderr, at exit)."""
    from scrapy.crawler import CrawlerProcess

    original = CrawlerProcess.start

    def start(self: CrawlerProcess, *args: Any, **kwargs: Any) -> None:
        before = _own_cpu()
        try:
            original(self, *args, **kwargs)
        finally:
            print(f"{CRAWL_CPU_MARK}{_own_cpu() - before:.4f}", file=sys.stderr, flush=True)

    CrawlerProcess.start = start  # type: ignore[method-assign]


def _timed(cmd: list[str]) -> tuple[float, float, float, str]:
    """(process CPU, crawl-phase CPU, wall seconds, stdout) of one child."""
    cpu, wall = _children_cpu(), time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed: {proc.stderr.strip().splitlines()[-1:]}")
    marks = [line for line in proc.stderr.splitlines() if line.startswith(CRAWL_CPU_MARK)]
    if not marks:
        raise SystemExit(f"{cmd[:4]}: no crawl-phase CPU reported")
    crawl_cpu = float(marks[-1][len(CRAWL_CPU_MARK) :])
    return _children_cpu() - cpu, crawl_cpu, time.monotonic() - wall, proc.stdout


def zwaudit_crawl(argv: list[str]) -> int:
    """zwaudit's crawl subprocess, unchanged, with the crawl phase measured."""
    _measure_crawl_phase()
    from crawler.run import main as crawl_main

    return crawl_main(argv)


def bare_crawl(config_dir: str, portal_id: str) -> None:
    """The baseline: a CrawlSpider with one follow-everything rule, same politeness, no storage."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.linkextractors import LinkExtractor
    from scrapy.spiders import CrawlSpider, Rule

    from crawler.config import PortalCrawl
    from zwaudit.config import load_config

    config = load_config(config_dir, validate_probes=False)
    crawl = PortalCrawl.from_profile(config.portal(portal_id), config)
    origins = [c.origin for c in crawl.channels]

    class BareSpider(CrawlSpider):
        name = "bare"
        rules = (Rule(LinkExtractor(allow=[o + "/" for o in origins], deny_extensions=[]), follow=True),)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.start_urls = [c.url for c in crawl.channels]

    settings: dict[str, Any] = {
        k: v
        for k, v in crawl.scrapy_settings(None).items()
        if not k.startswith(("PLAYWRIGHT", "CLOSESPIDER"))
    }
    settings.update({"LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False, "DEPTH_PRIORITY": 1})
    _measure_crawl_phase()
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    print(f"responses {stats.get('response_received_count', 0)}")


def main(argv: list[str]) -> None:
    if argv[:1] == ["--bare"]:
        bare_crawl(argv[1], argv[2])
        return
    if argv[:1] == ["--zwaudit"]:
        raise SystemExit(zwaudit_crawl(argv[1:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("province", nargs="?", default="sbx-shu")
    parser.add_argument("--repeat", type=int, default=9, help="pairs of crawls (default 9)")
    args = parser.parse_args(argv)
    province = args.province
    from sandbox.server import start
    from zwaudit.app.crawl import crawl_command, parse_summary
    from zwaudit.db.engine import make_engine, session_factory, upgrade
    from zwaudit.db.store import start_run

    zw: list[tuple[float, float, float]] = []  # (crawl cpu, process cpu, wall) per repetition
    bare: list[tuple[float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="crawl-bench-") as tmp:
        sandbox = start([province], base_port=0, directory=Path(tmp) / "sandbox")
        try:
            db_url = f"sqlite:///{tmp}/bench.sqlite"
            engine = make_engine(db_url)
            upgrade(engine)
            sessions = session_factory(engine)
            bare_cmd = [sys.executable, __file__, "--bare", str(sandbox.config_dir), province]
            for i in range(args.repeat):
                run_id = start_run(sessions, "crawl")
                cmd = crawl_command(run_id, [province], config_dir=sandbox.config_dir, db_url=db_url)
                cmd.append("--no-jobdir")
                module = cmd.index("-m")  # [python, -m, crawler, args...]: same args through the wrapper
                measured = [*cmd[:module], __file__, "--zwaudit", *cmd[module + 2 :]]
                for side in ("zwaudit", "bare") if i % 2 == 0 else ("bare", "zwaudit"):
                    if side == "zwaudit":
                        cpu, crawl_cpu, wall, out = _timed(measured)
                        zw_pages = parse_summary(out).portals[province].pages
                        zw.append((crawl_cpu, cpu, wall))
                    else:
                        cpu, crawl_cpu, wall, out = _timed(bare_cmd)
                        bare_pages = out.strip().rsplit(" ", 1)[-1]
                        bare.append((crawl_cpu, cpu, wall))
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # rerun: idempotent
            counts = parse_summary(proc.stdout).portals[province].item_counts
        finally:
            sandbox.stop()

    def med(rows: list[tuple[float, float, float]], k: int) -> float:
        return statistics.median(r[k] for r in rows)

    print(f"province {province}: items per channel {dict(counts)}; {args.repeat} pairs, medians:")
    print(f"zwaudit spider+pipelines: crawl cpu {med(zw, 0):.2f}s  process cpu {med(zw, 1):.2f}s", end="")
    print(f"  wall {med(zw, 2):.1f}s  responses {zw_pages}")
    print(f"bare CrawlSpider:         crawl cpu {med(bare, 0):.2f}s  process cpu {med(bare, 1):.2f}s", end="")
    print(f"  wall {med(bare, 2):.1f}s  responses {bare_pages}")
    pairs = " ".join(f"{z[0] / b[0]:.2f}" for z, b in zip(zw, bare, strict=True))
    print(
        f"crawl-phase cpu ratio zwaudit/bare = {med(zw, 0) / med(bare, 0):.2f} (target <= 1.25; pairs: {pairs})"
    )
    print(f"whole-process cpu ratio zwaudit/bare = {med(zw, 1) / med(bare, 1):.2f} (start-up included)")


if __name__ == "__main__":
    main(sys.argv[1:])
