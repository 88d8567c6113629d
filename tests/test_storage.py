"""Storage on both backends: migrations, transactional and idempotent writes of findings."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.config.schema import PortalProfile
from zwaudit.db import models, store
from zwaudit.db.engine import current_revision, make_engine, session_factory, table_names, upgrade
from zwaudit.errors import UsageError
from zwaudit.findings import EvidenceRef, Finding, error_finding
from zwaudit.outcomes import ErrorKind, Status

EXPECTED_TABLES = {
    "alembic_version",
    "portal",
    "run",
    "finding",
    "evidence",
    "service_item",
    "crawled_page",
    "indicator_value",
    "manual_input",
    "lock",
    "zwaudit_meta",
    "evidence_blob",
    "crawl_outcome",
}


def _portal() -> PortalProfile:
    return PortalProfile.model_validate({"id": "p1", "name": "测试省", "home_url": "https://127.0.0.1:1/"})


def test_migrations_create_schema_and_are_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    assert set(table_names(engine)) >= EXPECTED_TABLES
    first = current_revision(engine)
    upgrade(engine)  # a second upgrade changes nothing
    assert current_revision(engine) == first
    assert set(table_names(engine)) >= EXPECTED_TABLES
    engine.dispose()


def _findings(n: int) -> list[Finding]:
    out = [
        Finding(
            "search_accuracy",
            f"kw{i}",
            Status.FAIL,
            "not_found",
            {"i": i},
            [EvidenceRef("dom_excerpt", "text/html", path=f"run-1/p1/kw{i}.html", sha256="0" * 64)],
        )
        for i in range(n)
    ]
    out.append(error_finding("search_accuracy", "kwX", ErrorKind.TIMEOUT, "navigation timed out"))
    return out


def _count(session: Session, model: type[models.Base]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_replace_findings_is_idempotent(sessions: sessionmaker[Session]) -> None:
    run_id = store.start_run(sessions, "audit", portals=[_portal()])
    store.replace_findings(sessions, run_id, "p1", "search_accuracy", "1.0", _findings(3))
    store.replace_findings(sessions, run_id, "p1", "search_accuracy", "1.0", _findings(3))
    with sessions() as session:
        assert _count(session, models.Finding) == 4
        assert _count(session, models.Evidence) == 3
        rows = list(store.iter_findings(session, run_id, statuses=["error"]))
        assert [(r.target, r.code) for r in rows] == [("kwX", "timeout")]
        assert rows[0].observed_at.tzinfo is not None


def test_replace_findings_rolls_back_on_failure(sessions: sessionmaker[Session]) -> None:
    run_id = store.start_run(sessions, "audit", portals=[_portal()])
    store.replace_findings(sessions, run_id, "p1", "search_accuracy", "1.0", _findings(2))

    def broken() -> list[Finding]:
        def gen():  # type: ignore[no-untyped-def]
            yield from _findings(1)
            raise RuntimeError("probe crashed mid-write")

        return gen()  # type: ignore[no-any-return]

    with pytest.raises(RuntimeError):
        store.replace_findings(sessions, run_id, "p1", "search_accuracy", "1.0", broken())
    with sessions() as session:  # the earlier findings survive intact
        assert _count(session, models.Finding) == 3


def test_other_probes_are_untouched_by_a_rerun(sessions: sessionmaker[Session]) -> None:
    run_id = store.start_run(sessions, "audit", portals=[_portal()])
    store.replace_findings(sessions, run_id, "p1", "search_accuracy", "1.0", _findings(2))
    other = [Finding("auth_https", "https://x/login", Status.PASS)]
    store.replace_findings(sessions, run_id, "p1", "auth_https", "1.0", other)
    store.replace_findings(sessions, run_id, "p1", "search_accuracy", "1.0", _findings(1))
    with sessions() as session:
        probes = sorted(r.probe for r in store.iter_findings(session, run_id))
    assert probes == ["auth_https", "search_accuracy", "search_accuracy"]


def test_service_item_upsert_has_no_duplicates(sessions: sessionmaker[Session]) -> None:
    run_id = store.start_run(sessions, "crawl", portals=[_portal()])
    now = store.utcnow()
    row = {
        "run_id": run_id,
        "portal_id": "p1",
        "channel": "portal",
        "item_key": "C1",
        "code": "C1",
        "name": "结婚登记",
        "department": "民政厅",
        "fields": {"申请材料": ["身份证"]},
        "source_url": "https://x/1",
        "fetched_at": now,
    }
    with sessions.begin() as session:
        store.upsert_service_items(session, [row])
    with sessions.begin() as session:  # a resumed crawl sees the item again
        store.upsert_service_items(session, [{**row, "name": "内地居民结婚登记"}])
    with sessions() as session:
        assert store.item_counts(session, run_id, "p1") == {"portal": 1}
        assert session.scalars(select(models.ServiceItem.name)).one() == "内地居民结婚登记"


def test_a_page_read_again_that_failed_keeps_its_status_and_gains_the_error(
    sessions: sessionmaker[Session],
) -> None:
    """A page fetched (200), then rendered in the browser, whose rendering timed out: its content
    was not read, so the row says so; a shallower fetch still replaces a row as before."""
    run_id = store.start_run(sessions, "crawl", portals=[_portal()])

    def page(url: str, status: int | None, error: str | None, depth: int) -> dict[str, object]:
        return {
            "run_id": run_id,
            "portal_id": "p1",
            "channel": "portal",
            "url": url,
            "status_code": status,
            "error": error,
            "depth": depth,
            "referrer": None,
            "content_type": "text/html" if status else None,
            "fetched_at": store.utcnow(),
        }

    timeout = "timeout: rendering https://x/app took longer than 120 s"
    with sessions.begin() as session:
        store.upsert_crawled_pages(
            session, [page("https://x/app", 200, None, 1), page("https://x/t", None, "trap", 3)]
        )
    with sessions.begin() as session:
        store.upsert_crawled_pages(
            session,
            [
                page("https://x/app", None, timeout, 1),  # the rendering failed
                page("https://x/t", 200, None, 2),  # reached by fewer clicks: read after all
            ],
        )
    with sessions.begin() as session:  # a later failure never replaces the first error
        store.upsert_crawled_pages(session, [page("https://x/app", None, "network: reset", 1)])
    with sessions() as session:
        rows = {r.url: (r.status_code, r.error, r.depth) for r in session.scalars(select(models.CrawledPage))}
    assert rows == {"https://x/app": (200, timeout, 1), "https://x/t": (200, None, 2)}


def test_resolve_run(sessions: sessionmaker[Session]) -> None:
    from zwaudit.errors import UsageError

    with sessions() as session, pytest.raises(UsageError):
        store.resolve_run(session, "latest")
    a = store.start_run(sessions, "audit", portals=[_portal()])
    b = store.start_run(sessions, "audit")
    with sessions() as session:
        assert store.resolve_run(session, "latest") == b
        assert store.resolve_run(session, str(a)) == a
        with pytest.raises(UsageError):
            store.resolve_run(session, "999")


def test_sqlite_file_folder_is_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'z.sqlite'}"
    upgrade(make_engine(url))
    assert (tmp_path / "deep" / "er" / "z.sqlite").exists()


def test_evidence_directories_of_two_databases_never_collide(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Run ids restart at 1 in every database; their evidence must not share a directory."""
    other_engine = make_engine(f"sqlite:///{tmp_path / 'other.sqlite'}")
    upgrade(other_engine)
    other = session_factory(other_engine)
    first, second = store.start_run(sessions, "audit"), store.start_run(other, "audit")
    assert first == second == 1
    here, there = store.evidence_run_dir(sessions, first), store.evidence_run_dir(other, second)
    assert here.startswith("run-1-") and there.startswith("run-1-") and here != there
    assert store.evidence_run_dir(sessions, first) == here  # stable for the run: a rerun rewrites in place
    with pytest.raises(UsageError, match="run 9 does not exist"):
        store.evidence_run_dir(sessions, 9)
    other_engine.dispose()


def test_two_codes_of_one_target_are_two_rows(sessions: sessionmaker[Session]) -> None:
    """Issue 13, class 7: one row per (target, code), kept through a rerun, on both backends."""
    run_id = store.start_run(sessions, "audit", portals=[_portal()])
    both = [
        Finding("search_accuracy", "工业生产许可", Status.FAIL, "incomplete", {"missing": ["x"]}),
        Finding("search_accuracy", "工业生产许可", Status.FAIL, "imprecise", {"missing": ["x"]}),
    ]
    for _ in range(2):
        store.replace_findings(sessions, run_id, "p1", "search_accuracy", "1.1.0", both)
    with sessions() as s:
        rows = s.execute(
            select(models.Finding.target, models.Finding.code).where(models.Finding.run_id == run_id)
        ).all()
    assert sorted(rows) == [("工业生产许可", "imprecise"), ("工业生产许可", "incomplete")]
