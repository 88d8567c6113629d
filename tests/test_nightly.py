"""The nightly job's orchestration: outputs, exit codes, regression, lock, webhook.

The audit and scoring stages are replaced by stand-ins that store planted findings and indicator
values (the real ones need the sandbox and a browser; the demo runs them end to end). A test
checks that the real entry points exist with the keywords the nightly job passes.
"""

from __future__ import annotations

import asyncio
import csv
import inspect
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner
from ops_data import F, store_run
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app import nightly
from zwaudit.app.cli import cli
from zwaudit.app.nightly import NightlyOptions, run_nightly
from zwaudit.config import load_config
from zwaudit.db import models
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.findings import utcnow
from zwaudit.lock import LockHeld, read_lock

GOOD = [
    F("sbx-shu", "search_accuracy", "低保", "fail", "incomplete"),
    F("sbx-shu", "search_accuracy", "公积金", "pass"),
    F("sbx-zhe", "auth_https", "https://b/login", "pass"),
]
WORSE = [
    F("sbx-shu", "search_accuracy", "低保", "pass"),
    F("sbx-shu", "search_accuracy", "公积金", "pass"),
    F("sbx-zhe", "auth_https", "https://b/login", "fail", "hsts_missing"),
]


def ind(shu: float, zhe: float) -> list[tuple[str, str, str, float | None, str | None]]:
    return [("sbx-shu", "ccps", "overall", shu, None), ("sbx-zhe", "ccps", "overall", zhe, None)]


def make_config(tmp_path: Path, webhook: str | None = None) -> Path:
    cfg = tmp_path / "cfg"
    (cfg / "portals").mkdir(parents=True)
    for pid, name, port in (("sbx-shu", "蜀省政务服务网", 28011), ("sbx-zhe", "浙省政务服务网", 28021)):
        (cfg / "portals" / f"{pid}.yaml").write_text(
            f"id: {pid}\nname: {name}\nhome_url: https://127.0.0.1:{port}/\n", encoding="utf-8"
        )
    if webhook:
        (cfg / "settings.yaml").write_text(f"webhook_url: {webhook}\n", encoding="utf-8")
    return cfg


Plan = list[tuple[list[F], list[tuple[str, str, str, float | None, str | None]]]]


def stand_ins(monkeypatch: pytest.MonkeyPatch, plan: Plan, *, scoring: bool = True) -> list[dict[str, Any]]:
    """Replace the audit and score stages; returns the recorded audit calls."""
    calls: list[dict[str, Any]] = []
    steps = iter(plan)
    indicators: dict[int, Any] = {}

    def run_audit(config: Any, sf: sessionmaker[Session], **kw: Any) -> Any:
        calls.append(kw)
        findings, values = next(steps)
        kw["progress"].start("sbx-shu", "search_accuracy")
        run_id = store_run(
            sf, findings, trigger=kw["trigger"], status="running" if kw["leave_running"] else "ok"
        )
        kw["progress"].finish("sbx-shu", "search_accuracy", {"pass": 1}, 0.1)
        indicators[run_id] = values
        return SimpleNamespace(run_id=run_id)

    def score_run(
        sf: sessionmaker[Session], run_id: int, frameworks: Any, config: Any
    ) -> dict[str, list[Any]]:
        with sf.begin() as session:
            for portal, fw, name, value, band in indicators[run_id]:
                session.add(
                    models.IndicatorValue(
                        run_id=run_id, portal_id=portal, framework=fw, indicator=name, value=value,
                        state="ok", band=band, inputs={}, computed_at=utcnow(),
                    )
                )  # fmt: skip
        return {"ccps": [1, 2]}

    def broken_score_run(*_: Any) -> dict[str, list[Any]]:
        raise RuntimeError("scoring broke: no framework could be read")

    monkeypatch.setattr(nightly, "run_audit", run_audit)
    monkeypatch.setattr(nightly, "score_run", score_run if scoring else broken_score_run)
    return calls


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    url = f"sqlite:///{tmp_path / 'n.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    yield url, session_factory(engine)
    engine.dispose()


def test_real_stage_entry_points_take_what_nightly_passes() -> None:
    params = inspect.signature(nightly.run_audit).parameters
    assert {"portal_ids", "probes", "trigger", "progress", "db_url", "leave_running"} <= set(params)
    assert len(inspect.signature(nightly.score_run).parameters) == 4


def test_nightly_outputs_and_regression(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: tuple[str, sessionmaker[Session]]
) -> None:
    url, sf = db
    calls = stand_ins(monkeypatch, [(GOOD, ind(80.0, 90.0)), (WORSE, ind(85.0, 70.0))])
    config = load_config(make_config(tmp_path))
    options = NightlyOptions(out=tmp_path / "out", fail_on_regression=True)
    first = run_nightly(config, sf, db_url=url, options=options)
    assert calls[0]["trigger"] == "nightly" and calls[0]["portal_ids"] == ["sbx-shu", "sbx-zhe"]
    assert calls[0]["probes"] is None
    assert first.exit_code == 0 and first.diff is None
    assert first.stages == {"audit": "ok", "score": "ok", "export": "ok", "report": "ok", "diff": "ok"}
    assert first.csv == tmp_path / "out" / f"findings-run{first.run_id}.csv"
    assert first.report == tmp_path / "out" / "report" / "index.html"
    assert first.bundle is not None and zipfile.is_zipfile(first.bundle)
    rows = list(csv.DictReader(io.StringIO(first.csv.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 3
    assert read_lock(sf, "nightly") is None  # released

    second = run_nightly(config, sf, db_url=url, options=options)
    assert second.previous_run == first.run_id
    assert second.exit_code == 1  # a new fail on sbx-zhe and its overall dropped 90 → 70
    new, drops = second.diff.regressions if second.diff else ([], [])
    assert [(c.portal_id, c.code) for c in new] == [("sbx-zhe", "hsts_missing")]
    assert [(m.portal_id, m.before, m.after) for m in drops] == [("sbx-zhe", 90.0, 70.0)]
    assert "新增问题" in (tmp_path / "out" / "report" / "index.html").read_text(encoding="utf-8")
    with sf() as session:
        run = session.get(models.Run, second.run_id)
        assert run is not None and run.summary["nightly"]["regressed"] is True
    # without --fail-on-regression the same change is exit 0
    stand_ins(monkeypatch, [(GOOD, ind(85.0, 90.0)), (WORSE, ind(85.0, 60.0))])
    run_nightly(config, sf, db_url=url, options=NightlyOptions(out=tmp_path / "o2"))
    assert run_nightly(config, sf, db_url=url, options=NightlyOptions(out=tmp_path / "o2")).exit_code == 0


def test_failed_scoring_is_a_run_error_but_keeps_outputs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: tuple[str, sessionmaker[Session]]
) -> None:
    url, sf = db
    stand_ins(monkeypatch, [(GOOD, [])], scoring=False)
    config = load_config(make_config(tmp_path))
    result = run_nightly(config, sf, db_url=url, options=NightlyOptions(out=tmp_path / "out"))
    assert result.exit_code == 3
    assert "scoring broke" in result.stages["score"]
    assert result.stages["export"] == "ok" and result.csv is not None and result.csv.exists()
    with sf() as session:
        run = session.get(models.Run, result.run_id)
        assert run is not None and run.status == "failed"


def test_lock_held_by_a_live_run_is_exit_3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: tuple[str, sessionmaker[Session]]
) -> None:
    url, sf = db
    calls = stand_ins(monkeypatch, [(GOOD, [])])
    with sf.begin() as session:
        now = utcnow()
        session.add(models.Lock(name="nightly", holder="other-host:77", acquired_at=now, heartbeat_at=now))
    config = load_config(make_config(tmp_path))
    with pytest.raises(LockHeld):
        run_nightly(config, sf, db_url=url, options=NightlyOptions(out=tmp_path / "out"))
    assert calls == []  # nothing ran
    res = CliRunner().invoke(cli, ["--config", str(tmp_path / "cfg"), "--db", url, "nightly"])
    assert res.exit_code == 3 and "other-host:77" in res.output


class Receiver:
    """A local aiohttp server in a thread that records the JSON posted to it."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def hook(request: web.Request) -> web.Response:
            self.received.append(await request.json())
            return web.Response(status=self.status, text="ok")

        app = web.Application()
        app.router.add_post("/hook", hook)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> Receiver:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            await self.runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_webhook_receives_regressions_and_failure_never_fails_the_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: tuple[str, sessionmaker[Session]]
) -> None:
    url, sf = db
    with Receiver() as receiver:
        stand_ins(monkeypatch, [(GOOD, ind(80.0, 90.0)), (WORSE, ind(85.0, 70.0))])
        config = load_config(make_config(tmp_path, f"http://127.0.0.1:{receiver.port}/hook"))
        run_nightly(config, sf, db_url=url, options=NightlyOptions(out=tmp_path / "out"))
        second = run_nightly(config, sf, db_url=url, options=NightlyOptions(out=tmp_path / "out"))
    assert second.webhook_delivered is True
    assert len(receiver.received) == 2
    payload = receiver.received[1]
    assert payload["event"] == "zwaudit.app.nightly" and payload["run"] == second.run_id
    assert payload["regressed"] is True and payload["new_fails"] == 1
    assert payload["portals"]["sbx-zhe"]["new_fails"] == [
        {"probe": "auth_https", "target": "https://b/login", "code": "hsts_missing"}
    ]
    assert json.dumps(payload, ensure_ascii=False)  # plain JSON

    with Receiver(status=500) as failing:
        stand_ins(monkeypatch, [(GOOD, [])])
        cfg2 = tmp_path / "c2"
        cfg2.mkdir()
        config = load_config(make_config(cfg2, f"http://127.0.0.1:{failing.port}/hook"))
        result = run_nightly(config, sf, db_url=url, options=NightlyOptions(out=tmp_path / "o3"))
    assert result.webhook_delivered is False and result.exit_code == 0
    stand_ins(monkeypatch, [(GOOD, [])])
    cfg3 = tmp_path / "c3"
    cfg3.mkdir()
    config = load_config(make_config(cfg3, "http://127.0.0.1:9/hook"))  # nothing listens
    result = run_nightly(config, sf, db_url=url, options=NightlyOptions(out=tmp_path / "o4"))
    assert result.webhook_delivered is False and result.exit_code == 0


def test_cli_nightly_fail_on_regression(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: tuple[str, sessionmaker[Session]]
) -> None:
    url, _ = db
    stand_ins(monkeypatch, [(GOOD, ind(80.0, 90.0)), (WORSE, ind(85.0, 70.0))])
    make_config(tmp_path)
    args = ["--config", str(tmp_path / "cfg"), "--db", url, "nightly", "--out", str(tmp_path / "out")]
    first = CliRunner().invoke(cli, [*args, "--fail-on-regression"])
    assert first.exit_code == 0, first.output
    assert "report" in first.output and "findings-run1.csv" in first.output
    second = CliRunner().invoke(cli, [*args, "--fail-on-regression"])
    assert second.exit_code == 1, second.output
    assert "1 new fails" in second.output
    bad = CliRunner().invoke(cli, [*args, "--portal", "sbx-nope"])
    assert bad.exit_code == 2 and "unknown portal 'sbx-nope'" in bad.output


def test_rich_progress_tracks_portals_and_renders() -> None:
    from rich.console import Console

    from zwaudit.app.progress import LogProgress, RichProgress, progress_for_terminal

    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=False)
    with RichProgress(console, title="nightly") as progress:
        progress.start("sbx-shu", "crawl")
        progress.start("sbx-shu", "search_accuracy")
        progress.finish("sbx-shu", "search_accuracy", {"pass": 8, "fail": 2}, 1.5)
        progress.finish("sbx-shu", "link_health", {"fail": 1, "error": 1}, 0.5)
        state = progress.snapshot()
        console.print(progress)
    assert state == {
        "sbx-shu": {"running": ["crawl"], "done": 2, "counts": {"pass": 8, "fail": 3, "error": 1}}
    }
    text = buffer.getvalue()
    assert "sbx-shu" in text and "crawl" in text and "nightly" in text
    assert isinstance(progress_for_terminal(io.StringIO()), LogProgress)  # not a TTY: log lines
