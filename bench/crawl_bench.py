"""CPU cost of zwaudit's crawl against a bare Scrapy CrawlSpider over the same sandbox province.

Both run as subprocesses, one after the other, in one invocation, with the same politeness
settings; the CPU time (user + system) of each child is measured with ``getrusage`` and the ratio
zwaudit / bare is printed (target ≤ 1.25). The bare spider follows every ``a[href]`` within the
channels' origins and stores nothing; zwaudit's also reads guides, resolves ``onclick`` links,
checks off-site links and writes batches to SQLite.

    .venv/bin/python bench/crawl_bench.py [sbx-shu]
"""

from __future__ import annotations

import resource
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


def _timed(cmd: list[str]) -> tuple[float, float, str]:
    cpu, wall = _children_cpu(), time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return _children_cpu() - cpu, time.monotonic() - wall, proc.stdout


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
    province = argv[0] if argv else "sbx-shu"
    from sandbox.server import start
    from zwaudit.crawl import crawl_command, parse_summary
    from zwaudit.db.engine import make_engine, session_factory, upgrade
    from zwaudit.db.store import start_run

    with tempfile.TemporaryDirectory(prefix="crawl-bench-") as tmp:
        sandbox = start([province], base_port=0, directory=Path(tmp) / "sandbox")
        try:
            db_url = f"sqlite:///{tmp}/bench.sqlite"
            engine = make_engine(db_url)
            upgrade(engine)
            run_id = start_run(session_factory(engine), "crawl")
            cmd = crawl_command(run_id, [province], config_dir=sandbox.config_dir, db_url=db_url)
            cmd.append("--no-jobdir")
            zw_cpu, zw_wall, zw_out = _timed(cmd)
            zw_pages = parse_summary(zw_out).portals[province].pages
            bare_cmd = [sys.executable, __file__, "--bare", str(sandbox.config_dir), province]
            bare_cpu, bare_wall, bare_out = _timed(bare_cmd)
            bare_pages = bare_out.strip().rsplit(" ", 1)[-1]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # rerun: idempotent
            counts = parse_summary(proc.stdout).portals[province].item_counts
        finally:
            sandbox.stop()
    print(f"province {province}: items per channel {dict(counts)}")
    print(f"zwaudit spider+pipelines: cpu {zw_cpu:.2f}s wall {zw_wall:.1f}s responses {zw_pages}")
    print(f"bare CrawlSpider:         cpu {bare_cpu:.2f}s wall {bare_wall:.1f}s responses {bare_pages}")
    print(f"cpu ratio zwaudit/bare = {zw_cpu / bare_cpu:.2f} (target <= 1.25)")


if __name__ == "__main__":
    main(sys.argv[1:])
