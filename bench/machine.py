"""The machine's busy CPU time, and one crawl measured by it, for the benches that run Chromium.

Chromium's renderers are reaped by its zygote, so ``getrusage`` of a child process misses most of
the browser's work; these benches count the whole machine's busy time instead (``/proc/stat``),
which also counts anything else the machine runs meanwhile: run them on a quiet machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence, Set
from pathlib import Path


def busy_cpu() -> float:
    """CPU seconds the machine has been busy since boot (all cores, idle and iowait excluded)."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def alternating(sides: Sequence[str], repeat: int) -> Iterator[tuple[int, str]]:
    """``repeat`` pairs of runs as (pair, side), which side goes first alternating from pair to
    pair: a machine that speeds up or slows down during the bench favours neither side."""
    for pair in range(repeat):
        for side in sides if pair % 2 == 0 else tuple(reversed(sides)):
            yield pair, side


def chromium_pids(kind: str = "browser") -> set[int]:
    """The machine's Chromium processes of ``kind`` running now: ``browser`` (the browser process
    itself) or a helper's ``--type`` (``renderer``, ``gpu-process`` …)."""
    from zwaudit.app.memory import chromium_kind, chromium_processes

    return {pid for pid, argv in chromium_processes().items() if chromium_kind(argv) == kind}


class ChromiumCount:
    """Counts the Chromium processes of ``kind`` (:func:`chromium_pids`) that start while it is
    entered, sampled every ``interval`` seconds (one that lives shorter may be missed)."""

    def __init__(self, kind: str = "browser", interval: float = 0.2) -> None:
        self.kind = kind
        self.interval = interval
        self.seen: set[int] = set()
        self._done = threading.Event()
        self._before: set[int] = set()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._done.wait(self.interval):
            self.seen |= chromium_pids(self.kind) - self._before

    def __enter__(self) -> ChromiumCount:
        self._before = chromium_pids(self.kind)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


def measured_crawl(
    config_dir: Path, db_path: Path, provinces: Sequence[str], channels: tuple[str, ...]
) -> tuple[float, str, str, int]:
    """One crawl (its own subprocess, as a run's) into a fresh SQLite database: the machine's CPU,
    digests of the items (name, code, department, every guide field, source URL) and pages (URL,
    status, error, depth) it stored, and the item count; so a side that read less shows. The pages
    are also written beside the database (``<name>.pages.txt``), for :func:`pages_differing`."""
    from sqlalchemy import select

    from zwaudit.app.crawl import crawl
    from zwaudit.config import load_config
    from zwaudit.db import models, store
    from zwaudit.db.engine import make_engine, session_factory, upgrade

    url = f"sqlite:///{db_path}"
    engine = make_engine(url)
    upgrade(engine)
    sf = session_factory(engine)
    config = load_config(config_dir)
    run_id = store.start_run(
        sf, "manual", config_dir=str(config_dir), portals=[config.portals[p] for p in provinces]
    )
    before = busy_cpu()
    crawl(run_id, list(provinces), config_dir=config_dir, db_url=url, channels=channels)
    cpu = busy_cpu() - before
    with sf() as session:
        items = sorted(
            json.dumps([i.item_key, i.code, i.name, i.department, i.fields, i.source_url], ensure_ascii=False)
            for i in session.scalars(select(models.ServiceItem).where(models.ServiceItem.run_id == run_id))
        )
        pages = sorted(
            json.dumps([p.url, p.status_code, p.error, p.depth])
            for p in session.scalars(select(models.CrawledPage).where(models.CrawledPage.run_id == run_id))
        )
    engine.dispose()
    (db_path.parent / f"{db_path.stem}.pages.txt").write_text("\n".join(pages), encoding="utf-8")
    return cpu, _digest(items), _digest(pages), len(items)


def _digest(rows: list[str]) -> str:
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:12]


def pages_differing(first: Path, second: Path, limit: int = 10) -> list[str]:
    """The page rows two measured crawls (their databases) did not both store."""
    a, b = (
        set(p.with_name(f"{p.stem}.pages.txt").read_text(encoding="utf-8").splitlines())
        for p in (first, second)
    )
    return [f"only {first.stem}: {r}" for r in sorted(a - b)][:limit] + [
        f"only {second.stem}: {r}" for r in sorted(b - a)
    ][:limit]


def report_sides(
    heading: str,
    labels: dict[str, str],
    cpu: dict[str, list[float]],
    stored: Mapping[str, Set[object]],
    same_what: str = "items and pages on every crawl",
) -> None:
    """Print two sides' median CPU, the ratio (second / first), every pair's ratio and whether
    every run stored the same; exit 1 when one did not (a saving that changed what is read is
    no saving). ``labels``: side -> its name, the new way first; ``stored``: side -> what each of
    its runs stored (digests), so one set of one element when all agree."""
    new, old = labels
    medians = {side: statistics.median(cpu[side]) for side in labels}
    print(heading)
    width = max(len(label) for label in labels.values())
    for side, label in labels.items():
        print(f"  {label:{width}s}  {medians[side]:.1f} CPU-s (median)")
    print(f"  {labels[old]} / {labels[new]} = {medians[old] / medians[new]:.2f}")
    print("  pairs: " + ", ".join(f"{o / n:.2f}" for n, o in zip(cpu[new], cpu[old], strict=True)))
    same = len(stored[new] | stored[old]) == 1
    print(f"  same {same_what}: {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)
