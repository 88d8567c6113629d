"""The evidence CSV: BOM, exact column order, injection-neutralised cells, filters, the bundle."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from ops_data import F, store_run
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app.cli import cli
from zwaudit.app.export import ExportFilter, check_filter, export_csv, neutralise
from zwaudit.app.export_bundle import write_bundle
from zwaudit.app.export_columns import headers
from zwaudit.db import models
from zwaudit.errors import UsageError
from zwaudit.evidence import EvidenceWriter
from zwaudit.findings import EvidenceRef
from zwaudit.redact import Redactor

EXPECTED_COLUMNS = [
    "run_id",
    "observed_at",
    "portal_id",
    "portal_name",
    "probe",
    "target",
    "status",
    "code",
    "detail",
    "evidence_url",
    "evidence_files",
    "evidence_sha256",
    "probe_version",
]


def read_csv(path: Path) -> tuple[bytes, list[dict[str, str]]]:
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig")
    return raw, list(csv.DictReader(io.StringIO(text, newline="")))


def sample_run(sf: sessionmaker[Session]) -> int:
    writer = EvidenceWriter(1, "sbx-shu", "name_masking")
    shot = writer.text("dom_excerpt", "user.html", "<p>张*</p>")
    return store_run(
        sf,
        [
            F("sbx-shu", "search_accuracy", "低保", "fail", "incomplete", {"url": "https://a/s?q=低保"}),
            F("sbx-shu", "search_accuracy", "公积金", "pass"),
            F("sbx-shu", "search_accuracy", '=HYPERLINK("http://x")', "fail", "not_found"),
            F("sbx-shu", "name_masking", "https://a/user", "fail", "name_unmasked", {}, [shot]),
            F(
                "sbx-zhe",
                "link_health",
                "https://b/broken",
                "fail",
                "broken_link",
                {"found_on": "https://b/"},
                [EvidenceRef(kind="url", media_type="text/uri-list", url="https://b/broken")],
            ),
            F("sbx-zhe", "auth_https", "https://b/login", "error", "timeout", {"error": "+timed out"}),
        ],
    )


def test_neutralise_prefixes_formula_triggers() -> None:
    for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "＝1", "＋1", "－1", "＠x"]:
        assert neutralise(cell) == "'" + cell
    for cell in ["", "低保", "1", "a=b", " =1", "{}"]:
        assert neutralise(cell) == cell


def test_headers_declared_once_in_order() -> None:
    assert headers() == EXPECTED_COLUMNS
    zh = headers(zh=True)
    assert len(zh) == len(EXPECTED_COLUMNS) and zh[0] == "运行编号" and len(set(zh)) == len(zh)


def test_export_bom_columns_and_cells(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    run_id = sample_run(sessions)
    out = tmp_path / "f.csv"
    result = export_csv(sessions, ExportFilter(run_id), out)
    raw, rows = read_csv(out)
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").splitlines()[0].split(",") == EXPECTED_COLUMNS
    assert result.rows == len(rows) == 6
    # ordered by portal, probe, insertion
    assert [(r["portal_id"], r["probe"]) for r in rows] == [
        ("sbx-shu", "name_masking"),
        ("sbx-shu", "search_accuracy"),
        ("sbx-shu", "search_accuracy"),
        ("sbx-shu", "search_accuracy"),
        ("sbx-zhe", "auth_https"),
        ("sbx-zhe", "link_health"),
    ]
    by_target = {r["target"]: r for r in rows}
    dibao = by_target["低保"]
    assert dibao["run_id"] == str(run_id)
    assert dibao["portal_name"] == "蜀省政务服务网"
    assert dibao["status"] == "fail" and dibao["code"] == "incomplete"
    assert dibao["evidence_url"] == "https://a/s?q=低保"
    assert dibao["detail"] == "搜索“低保”：结果缺少本门户提供的相关事项"  # a sentence, not the JSON
    assert dibao["probe_version"] == "1.0.0"
    assert dibao["observed_at"].endswith("+00:00")
    # scraped text that would be a formula is neutralised, everything else untouched
    assert '\'=HYPERLINK("http://x")' in by_target
    assert by_target["https://b/login"]["detail"] == "统一登录HTTPS：访问 https://b/login 超时，未能得出结论"
    assert by_target["https://b/broken"]["detail"] == "链接 https://b/broken 无法打开"  # no url: generic
    assert not any(r["detail"].lstrip("'").startswith(("{", "[")) for r in rows)
    # evidence: files and hashes joined in the same order; url evidence gives the url
    masked = by_target["https://a/user"]
    assert masked["evidence_files"] == "run-1/sbx-shu/name_masking/user.html"
    assert masked["evidence_sha256"] == hashlib.sha256("<p>张*</p>".encode()).hexdigest()
    assert by_target["https://b/broken"]["evidence_url"] == "https://b/broken"
    assert by_target["https://b/broken"]["evidence_files"] == ""


def test_export_filters_and_zh_headers(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    run_id = sample_run(sessions)
    out = tmp_path / "f.csv"
    flt = ExportFilter(run_id, ("sbx-shu",), ("search_accuracy",), ("fail",))
    export_csv(sessions, flt, out, zh=True)
    _, rows = read_csv(out)
    assert list(rows[0].keys()) == headers(zh=True)
    assert sorted(r["检查对象"] for r in rows) == sorted(['\'=HYPERLINK("http://x")', "低保"])
    with pytest.raises(UsageError, match="--portal sbx-nope"):
        check_filter(sessions, ExportFilter(run_id, ("sbx-nope",)))
    with pytest.raises(UsageError, match="--probe name_mask"):
        check_filter(sessions, ExportFilter(run_id, probes=("name_mask",)))


def test_export_applies_redactors(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    run_id = store_run(
        sessions,
        [
            F("sbx-shu", "name_masking", "https://a/user", "fail", "name_unmasked", {"seen": "张三丰"}),
            F(
                "sbx-shu",
                "name_masking",
                "https://a/u?who=张三丰",
                "error",
                "login_failed",
                {"error": "张三丰 x"},
            ),
        ],
    )
    out = tmp_path / "f.csv"
    export_csv(sessions, ExportFilter(run_id), out, redactors=[Redactor({"name": "张三丰"})])
    text = out.read_text(encoding="utf-8-sig")
    assert "张三丰" not in text and "张**" in text


def test_bundle_has_files_manifest_and_sums(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    run_id = sample_run(sessions)
    out = tmp_path / "f.csv"
    result = export_csv(sessions, ExportFilter(run_id), out, collect_evidence=True)
    assert list(result.evidence) == ["run-1/sbx-shu/name_masking/user.html"]
    evidence = {**result.evidence, "run-1/gone.png": None, "../../etc/passwd": None}
    bundle = write_bundle(tmp_path / "b.zip", out, evidence, run_id=run_id)
    assert sorted(bundle.missing) == ["../../etc/passwd", "run-1/gone.png"]
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        names = set(zf.namelist())
        assert names == {
            "f.csv",
            "evidence/run-1/sbx-shu/name_masking/user.html",
            "manifest.json",
            "SHA256SUMS",
        }
        manifest = json.loads(zf.read("manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(zf.read(entry["path"])).hexdigest() == entry["sha256"]
        ev = next(e for e in manifest["files"] if e["kind"] == "evidence")
        assert ev["verified"] is True and ev["stored_sha256"] == ev["sha256"]
        assert sorted(manifest["missing"]) == sorted(bundle.missing)
        sums = zf.read("SHA256SUMS").decode().splitlines()
        assert len(sums) == 2 and all("  " in line for line in sums)


def test_bundle_flags_tampered_evidence(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    run_id = sample_run(sessions)
    out = tmp_path / "f.csv"
    result = export_csv(sessions, ExportFilter(run_id), out, collect_evidence=True)
    (Path(tmp_path / "var" / "runs" / "run-1/sbx-shu/name_masking/user.html")).write_text("<p>changed</p>")
    bundle = write_bundle(tmp_path / "b.zip", out, result.evidence, run_id=run_id)
    assert bundle.mismatched == ["run-1/sbx-shu/name_masking/user.html"]


def test_cli_export_one_portal_one_probe(tmp_path: Path) -> None:
    """`zwaudit export --run latest --portal X --probe Y` gives exactly that probe's findings."""
    from zwaudit.db.engine import make_engine, session_factory, upgrade

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    sf = session_factory(engine)
    sample_run(sf)
    out = tmp_path / "x.csv"
    runner = CliRunner()
    res = runner.invoke(
        cli,
        ["--db", url, "export", "--run", "latest", "--portal", "sbx-shu", "--probe", "search_accuracy",
         "--out", str(out), "--bundle", str(tmp_path / "x.zip")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    _, rows = read_csv(out)
    assert len(rows) == 3 and {(r["portal_id"], r["probe"]) for r in rows} == {("sbx-shu", "search_accuracy")}
    assert (tmp_path / "x.zip").exists()
    bad = runner.invoke(cli, ["--db", url, "export", "--portal", "nope", "--out", str(out)])
    assert bad.exit_code == 2 and "--portal nope" in bad.output
    engine.dispose()


@pytest.mark.browser
def test_audit_then_export_gives_exactly_that_probe(sandbox: object, tmp_path: Path) -> None:
    """The auditor's loop on the real sandbox: audit one probe on one portal, export it."""
    from zwaudit.db.engine import make_engine, session_factory
    from zwaudit.db.models import Finding as FindingRow

    config_dir = str(sandbox.config_dir)  # type: ignore[attr-defined]
    url = f"sqlite:///{tmp_path / 'loop.sqlite'}"
    runner = CliRunner()
    audited = runner.invoke(
        cli, ["--config", config_dir, "--db", url, "audit", "--portal", "sbx-zhe", "--probe", "auth_https"]
    )
    assert audited.exit_code == 0, audited.output
    out = tmp_path / "one.csv"
    exported = runner.invoke(
        cli,
        ["--config", config_dir, "--db", url, "export", "--run", "latest", "--portal", "sbx-zhe", "--probe", "auth_https", "--out", str(out)],
    )  # fmt: skip
    assert exported.exit_code == 0, exported.output
    _, rows = read_csv(out)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        stored = session.query(FindingRow).filter_by(portal_id="sbx-zhe", probe="auth_https").all()
    engine.dispose()
    assert rows and len(rows) == len(stored)
    assert {(r["portal_id"], r["probe"]) for r in rows} == {("sbx-zhe", "auth_https")}
    assert sorted((r["target"], r["status"], r["code"]) for r in rows) == sorted(
        (neutralise(f.target), f.status, f.code or "") for f in stored
    )


def test_two_codes_of_one_keyword_are_two_rows_with_coverage(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Issue 13, class 7: filtering the CSV by code finds every defect; coverage travels in detail."""
    from probes.search.catalogue import Catalogue, CatalogueItem
    from probes.search.judge import SearchObservation, SearchResult, judge_search
    from probes.search.keywords import load_keywords
    from zwaudit.paths import DEFAULT_CONFIG_DIR

    rule = next(
        r for r in load_keywords(DEFAULT_CONFIG_DIR / "keywords.yaml").keywords if r.keyword == "工业生产许可"
    )
    catalogue = Catalogue((CatalogueItem("工业产品生产许可证核发"),), run_id=1)
    titles = ["道路运输许可", "食品经营许可", "药品经营许可"]
    obs = SearchObservation("工业生产许可", [SearchResult(t) for t in titles])
    findings = judge_search(obs, rule, 10, 0.5, catalogue)
    run_id = store_run(
        sessions, [F("sbx-shu", "search_accuracy", f.target, "fail", f.code, f.detail) for f in findings]
    )
    out = tmp_path / "f.csv"
    export_csv(sessions, ExportFilter(run_id, statuses=("fail",)), out)
    _, rows = read_csv(out)
    assert sorted((r["target"], r["code"]) for r in rows) == [
        ("工业生产许可", "imprecise"),
        ("工业生产许可", "incomplete"),
    ]
    sentences = {r["code"]: r["detail"] for r in rows}
    # the coverage (catalogue items the judgement considered) is in the sentence too
    assert sentences["incomplete"] == (
        "搜索“工业生产许可”：前10条结果缺少“工业产品生产许可证核发”，召回率0%。覆盖：参与判断的目录事项 1 项"
    )
    assert sentences["imprecise"] == (
        "搜索“工业生产许可”：前3条结果中3条与关键词无关，准确率0%。覆盖：参与判断的目录事项 1 项"
    )
    # the machine facts (coverage, the catalogue considered) stay in the stored detail
    with sessions() as s:
        stored = s.scalars(select(models.Finding).where(models.Finding.run_id == run_id)).first()
        assert stored is not None
        assert stored.detail["coverage"] == {"catalogue_items_considered": 1, "not_offered": 0}
        assert stored.detail["catalogue"]["considered"] == {
            "工业产品生产许可证核发": ["工业产品生产许可证核发"]
        }
