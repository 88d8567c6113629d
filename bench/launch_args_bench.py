"""CPU cost of a calibration run with zwaudit's Chromium switches against the plain ones.

``zwaudit.browser.LAUNCH_ARGS`` adds to what every browser of a run gets (probes, crawl, report
snapshot): ``--in-process-gpu`` (no GPU process: with ``--disable-gpu`` it only composites in
software) and one ``--disable-features`` that repeats Playwright's list and adds
``SpareRendererForSitePerProcess`` (no renderer started ahead of each navigation),
``AutofillServerCommunication`` (no form-type query to content-autofill.googleapis.com) and
``WebUIOmniboxPopup`` with ``WebUIOmniboxAimPopup`` (no renderer per browser context for the
address bar's popups of a window headless Chromium never shows). The plain
side is the switches before that change, put back by a ``sitecustomize`` module on that side's
``PYTHONPATH`` (the crawl subprocess inherits it).

Each side runs ``zwaudit calibrate --family sandbox-1 --probe search_accuracy --probe auth_https``
(the calibration test's run: a crawl of six provinces and two browser checks), as a subprocess on
a sandbox of its own, alternating which side goes first. CPU is the machine's busy time while it
ran (``bench/machine.py``): run it on a quiet machine and read the pairs' spread. Printed: each
side's median, the ratio (plain / ours), every pair's ratio, the renderer processes each side
started, the requests to Google's autofill the egress policy refused, and whether both sides
stored the same findings (exit 1 when not).

    .venv/bin/python bench/launch_args_bench.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from machine import ChromiumCount, alternating, busy_cpu, report_sides  # noqa: E402  (bench/, the script's own directory)

SIDES = ("ours", "plain")
PLAIN = (
    "import zwaudit.browser\n"
    "zwaudit.browser.LAUNCH_ARGS = ('--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',\n"
    "    '--disable-background-networking', '--disable-component-update', '--disable-sync')\n"
)
COMMAND = [
    sys.executable,
    "-c",
    "from zwaudit.app.cli import main; main()",
    "--log-format",
    "text",
    "-v",
    "calibrate",
    "--family",
    "sandbox-1",
    "--probe",
    "search_accuracy",
    "--probe",
    "auth_https",
]


def _findings(db: Path) -> tuple[str, int]:
    """A digest of the run's findings (portal, check, target, status, code) and their count."""
    from sqlalchemy import create_engine, select

    from zwaudit.db import models

    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                models.Finding.portal_id,
                models.Finding.probe,
                models.Finding.target,
                models.Finding.status,
                models.Finding.code,
            )
        ).all()
    engine.dispose()
    # a target's address carries the port of that run's sandbox
    listed = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1", json.dumps(sorted([list(map(str, r)) for r in rows])))
    return hashlib.sha256(listed.encode()).hexdigest()[:12], len(rows)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)

    cpu: dict[str, list[float]] = {side: [] for side in SIDES}
    stored: dict[str, set[tuple[str, int]]] = {side: set() for side in SIDES}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        patch = root / "plain"
        patch.mkdir()
        (patch / "sitecustomize.py").write_text(PLAIN, encoding="utf-8")
        base_path = os.environ.get("PYTHONPATH", "")
        for i, side in alternating(SIDES, args.repeat):
            paths = [str(PROJECT_ROOT), *([str(patch)] if side == "plain" else []), base_path]
            work = root / f"{side}-{i}"
            env = dict(
                os.environ,
                PYTHONPATH=os.pathsep.join(filter(None, paths)),
                ZWAUDIT_VAR=str(work / "var"),
                ZWAUDIT_OUT=str(work / "out"),
                ZWAUDIT_DB=f"sqlite:///{work / 'calibration.sqlite'}",
            )
            work.mkdir()
            before = busy_cpu()
            with ChromiumCount("renderer", interval=0.1) as renderers:
                done = subprocess.run(COMMAND, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
            seconds = busy_cpu() - before
            if done.returncode != 0:
                sys.exit(f"{side}: calibrate exited {done.returncode}: {done.stderr[-2000:]}")
            digest, count = _findings(work / "calibration.sqlite")
            autofill = done.stderr.count("egress refused: https://content-autofill.googleapis.com")
            cpu[side].append(seconds)
            stored[side].add((digest, count))
            print(
                f"  {side:5s} {seconds:5.1f} CPU-s  {len(renderers.seen):3d} renderers  "
                f"{autofill:3d} autofill requests refused  {count} findings {digest}"
            )
    report_sides(
        f"calibration of sandbox-1 (search_accuracy, auth_https), {args.repeat} pairs",
        {"ours": "zwaudit's switches", "plain": "the plain switches"},
        cpu,
        stored,
        same_what="findings on every run",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
