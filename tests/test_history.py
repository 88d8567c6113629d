"""Run history and the diff of two runs with planted changes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from ops_data import F, store_run
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app.cli import cli
from zwaudit.app.history import (
    Observation,
    compare_indicators,
    compare_targets,
    comparison_run,
    diff_runs,
    run_infos,
)
from zwaudit.db import models


def obs(*statuses: str, fails: tuple[str, ...] = (), errors: tuple[str, ...] = ()) -> Observation:
    return Observation(frozenset(statuses), frozenset(fails), frozenset(errors))


def test_compare_targets_kinds() -> None:
    before = {
        "低保": obs("fail", fails=("incomplete",)),
        "社保": obs("fail", fails=("not_found",)),
        "个税": obs("fail", fails=("imprecise",)),
        "公积金": obs("pass"),
        "结婚": obs("error", errors=("timeout",)),
    }
    after = {
        "低保": obs("pass"),  # fixed
        "社保": obs("error", errors=("timeout",)),  # could not re-check: not fixed
        "公积金": obs("fail", fails=("not_found",)),  # new
        "结婚": obs("pass"),  # changed (error -> pass)
        # 个税 absent: not re-checked
    }
    changes = {(c.target, c.kind, c.code) for c in compare_targets("p", "search_accuracy", before, after)}
    assert changes == {
        ("低保", "fixed", "incomplete"),
        ("社保", "unresolved", "not_found"),
        ("个税", "unresolved", "imprecise"),
        ("公积金", "new", "not_found"),
        ("结婚", "changed", None),
    }


def test_several_codes_on_one_target() -> None:
    before = {"https://x/login": obs("fail", fails=("hsts_missing", "mixed_content"))}
    after = {"https://x/login": obs("fail", fails=("hsts_missing", "form_posts_http"))}
    changes = {(c.kind, c.code) for c in compare_targets("p", "auth_https", before, after)}
    assert changes == {("new", "form_posts_http"), ("fixed", "mixed_content")}


def test_compare_indicators_only_portals_scored_in_both() -> None:
    before = {
        ("a", "ccps", "总分"): (80.0, "高"),
        ("a", "ccps", "搜索"): (50.0, None),
        ("b", "ccps", "总分"): (70.0, "中"),
    }
    after = {("a", "ccps", "总分"): (91.0, "非常高"), ("a", "ccps", "搜索"): (None, None)}
    moves = {m.indicator: m for m in compare_indicators(before, after)}
    assert set(moves) == {"总分", "搜索"}  # portal b was not scored in the later run
    assert moves["总分"].delta == 11.0 and not moves["总分"].dropped
    assert moves["搜索"].dropped  # a value that went missing counts as a drop


def planted_runs(sf: sessionmaker[Session]) -> tuple[int, int]:
    base = [
        F("sbx-shu", "search_accuracy", "低保", "fail", "incomplete"),
        F("sbx-shu", "search_accuracy", "公积金", "pass"),
        F("sbx-zhe", "auth_https", "https://b/login", "pass"),
    ]
    a = store_run(
        sf,
        base,
        indicators=[
            ("sbx-shu", "ccps", "服务方式完备度", 80.0, "高"),
            ("sbx-zhe", "ccps", "服务方式完备度", 90.0, "高"),
        ],
    )
    b = store_run(
        sf,
        [
            F("sbx-shu", "search_accuracy", "低保", "pass"),  # fixed
            F("sbx-shu", "search_accuracy", "公积金", "pass"),
            F("sbx-zhe", "auth_https", "https://b/login", "fail", "hsts_missing"),  # planted regression
            F("sbx-zhe", "link_health", "https://b/x", "fail", "broken_link"),  # probe not in run a
        ],
        indicators=[
            ("sbx-shu", "ccps", "服务方式完备度", 85.0, "高"),
            ("sbx-zhe", "ccps", "服务方式完备度", 75.5, "中"),
        ],
    )
    return a, b


def test_diff_of_two_stored_runs(sessions: sessionmaker[Session]) -> None:
    a, b = planted_runs(sessions)
    with sessions() as session:
        diff = diff_runs(session, a, b)
        infos = run_infos(session)
    assert [(c.portal_id, c.kind, c.target, c.code) for c in diff.changes] == [
        ("sbx-shu", "fixed", "低保", "incomplete"),
        ("sbx-zhe", "new", "https://b/login", "hsts_missing"),
    ]
    assert diff.only_b == [("sbx-zhe", "link_health")]  # not compared, not "new"
    new, drops = diff.regressions
    assert len(new) == 1 and [(m.portal_id, m.before, m.after) for m in drops] == [("sbx-zhe", 90.0, 75.5)]
    summary = diff.summary()
    assert summary["new_fails"] == 1 and summary["indicator_drops"] == 1 and summary["fixed"] == 1
    assert list(summary["portals"]) == ["sbx-zhe"]
    assert [i.id for i in infos] == [b, a] and infos[0].counts == {"pass": 2, "fail": 2}
    assert infos[0].portals == 2


def test_a_run_is_compared_with_its_own_kind_or_its_source(sessions: sessionmaker[Session]) -> None:
    """The report and the nightly's diff compare with the same run: a nightly with the last
    completed nightly (never a calibration of two checks run in between, never an interrupted
    nightly), a rejudged run with the run it was derived from."""
    shu = [F("sbx-shu", "search_accuracy", "低保", "pass")]
    calibrate_before = store_run(sessions, shu, trigger="calibrate")
    first = store_run(sessions, shu)
    calibrate_between = store_run(sessions, shu, trigger="calibrate")
    interrupted = store_run(sessions, shu, status="interrupted")
    second = store_run(sessions, shu)
    rejudged = store_run(sessions, shu, trigger="rejudge")
    with sessions.begin() as session:
        session.get_one(models.Run, rejudged).summary = {"derived_from": first}
    with sessions() as session:
        assert comparison_run(session, first) is None  # not calibrate_before
        assert comparison_run(session, second) == first  # not calibrate_between, not interrupted
        assert comparison_run(session, calibrate_between) == calibrate_before
        assert comparison_run(session, rejudged) == first
        assert comparison_run(session, interrupted + 100) is None


def test_cli_runs_and_diff(tmp_path: Path) -> None:
    from zwaudit.db.engine import make_engine, session_factory, upgrade

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    a, b = planted_runs(session_factory(engine))
    runner = CliRunner()
    runs = runner.invoke(cli, ["--db", url, "runs"])
    assert runs.exit_code == 0 and "nightly" in runs.output
    out = runner.invoke(cli, ["--db", url, "diff"])  # default: the last two
    assert out.exit_code == 0, out.output
    assert f"run {a} → run {b}: 1 new fails, 1 fixed" in out.output
    assert "hsts_missing" in out.output and "not compared (only in run 2): sbx-zhe/link_health" in out.output
    js = runner.invoke(cli, ["--db", url, "diff", str(a), str(b), "--json"])
    assert json.loads(js.output)["portals"]["sbx-zhe"]["new_fails"][0]["code"] == "hsts_missing"
    missing = runner.invoke(cli, ["--db", url, "diff", "1", "99"])
    assert missing.exit_code == 2 and "run 99 does not exist" in missing.output
    engine.dispose()
