"""Issue 14's contract for all nine checks, without a browser: each judge is pure (a stored
observation, read back from its JSON, judged with the network, every database and Playwright
refused gives the same findings, twice); preconditions are declared and written by the runner;
evidence kinds are declared and enforced; every error kind and unmet precondition reads as one
Chinese sentence."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from probes.auth.judge import AuthObservation, CertificateCheck, PasswordSubmission
from probes.auth_https import AuthHttpsObservation
from probes.catalogue.common import (
    CatalogueObservation,
    DepthObservation,
    ItemSnapshot,
    PageSnapshot,
    PagesObservation,
)
from probes.duplicate_login import Arrival, DuplicateLoginObservation, DuplicateLoginWalk
from probes.name_masking import MaskingObservation, Surface, record
from probes.search.catalogue import CatalogueItem
from probes.search.judge import SearchObservation, SearchResult
from probes.search_accuracy import SearchAccuracyObservation
from zwaudit import observations
from zwaudit.app.check_runner import PortalCheckRunner, judge_stored
from zwaudit.checks import (
    Facts,
    JudgeInput,
    Observation,
    Precondition,
    TwoPhaseCheck,
    is_two_phase,
    unmet_preconditions,
)
from zwaudit.config import load_config
from zwaudit.config.loader import Config
from zwaudit.config.schema import PortalProfile
from zwaudit.db import store
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.evidence import EvidenceWriter, UndeclaredEvidenceError
from zwaudit.explain import explain
from zwaudit.findings import Finding, UndeclaredCodeError, utcnow
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.paths import DEFAULT_CONFIG_DIR
from zwaudit.redact import Redactor
from zwaudit.registry import declarations
from zwaudit.secrets import Secrets

HOME = "https://zw.example.gov.cn/"
PERSON = {"name": "张大友", "id_number": "33010219800101123X", "phone": "13800138000"}
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(DEFAULT_CONFIG_DIR, validate_probes=False)


def profile(**extra: Any) -> PortalProfile:
    raw = {
        "id": "zw",
        "name": "某省政务服务网",
        "province": "某省",
        "home_url": HOME,
        "departments": [{"id": "mz", "name": "民政厅", "url": "https://mz.example.gov.cn/wsbs/"}],
        **extra,
    }
    return PortalProfile.model_validate(raw)


def item(channel: str, code: str, name: str, **fields: Any) -> ItemSnapshot:
    return ItemSnapshot(
        channel, code, code, name, "民政厅", fields, f"https://zw.example.gov.cn/{channel}/{code}"
    )


ITEMS = [
    item("portal", "C1", "最低生活保障审批", 办理地点="大厅", 承诺办结时限="20个工作日"),
    item("portal", "C2", "石油天然气(含煤层气)对外合作项目总体开发方案审批", 办理地点="大厅"),
]
MOBILE = [item("mobile", "C1", "最低生活保障审批", 办理地点="大厅", 承诺办结时限="30个工作日")]


def observations_of_every_check() -> dict[str, Observation]:
    """A realistic observation of each of the nine checks, as its observer would have made it."""
    raw = MaskingObservation(
        "https://zw.example.gov.cn/uc/index",
        (
            Surface(
                "page",
                "https://zw.example.gov.cn/uc/index",
                "姓名：张*友 证件号：33010219800101**** 电话 138****8000",
            ),
            Surface(
                "api", "https://zw.example.gov.cn/api/user", '{"userName": "张大友", "mobile": "13800138000"}'
            ),
        ),
    )
    arrivals = (
        Arrival(
            "https://mz.example.gov.cn/wsbs/apply",
            HOME,
            "https://mz.example.gov.cn/wsbs/apply",
            name_forms=("masked",),
        ),
        Arrival(
            "https://rs.example.gov.cn/ws/a", HOME, "https://rs.example.gov.cn/login", password_form=True
        ),
        Arrival("https://gs.example.gov.cn/x/y", HOME, error_kind=ErrorKind.TIMEOUT, error="timed out"),
    )
    login = AuthObservation(
        start_url=HOME,
        login_url="http://auth.example.gov.cn/login",
        chain=[HOME],
        form_action="http://auth.example.gov.cn/login/do",
        form_method="post",
        submissions=[PasswordSubmission("POST", "http://auth.example.gov.cn/login/do", "form")],
        certificate=CertificateCheck(valid=True),
    )
    searched = [
        SearchObservation(
            "低保", [SearchResult("最低生活保障审批", "https://x/1"), SearchResult("无关", "https://x/2")]
        ),
        SearchObservation("个税", [], "没有找到相关结果"),
    ]
    return {
        "name_masking": record(raw, PERSON, _masking_rules()),
        "duplicate_login": DuplicateLoginWalk(
            home_url=HOME,
            visits=DuplicateLoginObservation("auth.example.gov.cn", arrivals),
            seen=("mz.example.gov.cn/wsbs", "rs.example.gov.cn/ws"),
            pages_read=12,
            page_budget=40,
        ),
        "auth_https": AuthHttpsObservation(login=login),
        "search_accuracy": SearchAccuracyObservation(
            searched=searched, catalogue_items=[CatalogueItem("最低生活保障审批", "C1")], catalogue_run=1
        ),
        "data_same_source": CatalogueObservation(items={"portal": ITEMS, "mobile": MOBILE}),
        "guide_completeness": CatalogueObservation(items={"portal": ITEMS}),
        "cancelled_items": CatalogueObservation(items={"portal": ITEMS}),
        "click_depth": DepthObservation(
            items=ITEMS, depth_of={ITEMS[0].source_url: 2, ITEMS[1].source_url: 6}
        ),
        "link_health": PagesObservation(
            pages=[
                PageSnapshot(HOME, "portal", 200, None, 0, None),
                PageSnapshot("https://zw.example.gov.cn/gone", "portal", 404, None, 1, HOME),
            ]
        ),
    }


def _masking_rules() -> Any:
    from probes.common.masking import load_rules

    return load_rules(load_config(DEFAULT_CONFIG_DIR, validate_probes=False))


def _key(findings: list[Finding]) -> list[tuple[Any, ...]]:
    return [
        (
            f.target,
            f.status,
            f.code,
            json.dumps(f.detail, sort_keys=True, ensure_ascii=False),
            [e.kind for e in f.evidence],
        )
        for f in findings
    ]


def test_every_judge_is_pure_on_its_stored_observation(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = profile(probes={"search_accuracy": {"top_n": 10}})
    made = observations_of_every_check()
    assert set(made) == set(declarations().checks)  # all nine
    stored: dict[str, tuple[TwoPhaseCheck, str, JudgeInput, EvidenceWriter, list[Finding]]] = {}
    for name, observation in made.items():
        cls = config.check_class(name)
        assert is_two_phase(cls), name
        check = cls()
        assert isinstance(check, TwoPhaseCheck)
        writer = EvidenceWriter(1, "zw", name, Redactor(PERSON), root=tmp_path)
        _, text = observations.write(writer, name, cls.version, observation, utcnow())
        for value in PERSON.values():  # the stored observation holds no personal data
            assert value not in text, (name, value)
        where = JudgeInput(config=config, portal=portal, options=config.check_options(portal, name))
        live = check.judge(observation, check.rules(where))  # the observation as the observer made it
        check.document(live, observation, writer)
        stored[name] = (check, text, where, writer, live)
    assert "33010219800101" not in stored["name_masking"][1]  # not even a weakly masked rendering

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("a judge did I/O")

    import playwright.async_api

    monkeypatch.setattr(socket.socket, "connect", refused)
    monkeypatch.setattr(socket, "create_connection", refused)
    monkeypatch.setattr(socket, "getaddrinfo", refused)
    monkeypatch.setattr(sqlite3, "connect", refused)
    monkeypatch.setattr(playwright.async_api, "async_playwright", refused)
    for name, (check, text, where, writer, live) in stored.items():
        first = judge_stored(check, text, where, writer, utcnow())
        again = judge_stored(type(check)(), text, where, writer, utcnow())
        assert first, name
        assert _key(first) == _key(again) == _key(live), name
        for f in first:  # every code is one the check declares (Finding refuses others)
            assert f.code is None or f.status is Status.ERROR or f.code in type(check).codes
    verdicts = {n: {(f.status.value, f.code) for f in v[4]} for n, v in stored.items()}
    assert ("fail", "name_unmasked") in verdicts["name_masking"]
    assert ("fail", "id_number_unmasked") in verdicts["name_masking"]
    assert ("fail", "phone_unmasked") in verdicts["name_masking"]
    assert verdicts["duplicate_login"] == {("pass", None), ("fail", "second_login"), ("error", "timeout")}


def test_a_changed_masking_rule_changes_the_verdict_of_a_stored_observation(config: Config) -> None:
    """The stored sightings keep how much each rendering reveals: a stricter style, rejudged,
    turns a compliant 张*友 into a leak without the page being read again."""
    from probes.common.masking import parse_rules
    from probes.name_masking import NameMasking

    raw = MaskingObservation(HOME, (Surface("page", HOME, "姓名：张*友"),))
    person = {"name": PERSON["name"]}
    rules = _masking_rules()
    stored = record(raw, person, rules)
    check = NameMasking()
    assert [(f.status, f.code) for f in check.judge(stored, rules)] == [(Status.PASS, None)]
    strict = parse_rules({"mask_chars": "*", "name": [{"first": 1}]}, Path("masking.yaml"))
    (fail,) = check.judge(stored, strict)
    assert (fail.status, fail.code, fail.detail["form"]) == (
        Status.FAIL,
        "name_unmasked",
        "insufficiently_masked",
    )


def test_no_check_writes_not_applicable_or_a_precondition_error_by_hand() -> None:
    root = DEFAULT_CONFIG_DIR.parent
    for path in [*(root / "probes").rglob("*.py"), *(root / "crawler" / "checks").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        assert "Status.NOT_APPLICABLE" not in text, path
        assert "stored no portal items" not in text, path  # the precondition's reason


def test_preconditions_are_declared_in_the_registry() -> None:
    reg = declarations()
    assert set(reg.preconditions) == {p.value for p in Precondition}
    declared = {n: set(s.preconditions) for n, s in reg.checks.items()}
    assert declared["name_masking"] == declared["duplicate_login"] == {"test_account"}
    for name in ("data_same_source", "guide_completeness", "cancelled_items", "click_depth"):
        assert declared[name] == {"portal_catalogue"}, name
    personal = {c: s.requires_personal for c, s in reg.checks["name_masking"].codes.items()}
    assert personal == {"name_unmasked": "name", "id_number_unmasked": "id_number", "phone_unmasked": "phone"}


def test_unmet_preconditions_make_the_runners_findings() -> None:
    none = unmet_preconditions("duplicate_login", Facts(account=False))
    assert none.skip
    (na,) = none.findings(HOME)
    assert (na.status, na.code, na.target, na.detail["precondition"]) == (
        Status.NOT_APPLICABLE,
        None,
        HOME,
        "test_account",
    )
    masked = unmet_preconditions("name_masking", Facts(account=False))
    assert {(f.status, f.code, f.detail["field"]) for f in masked.findings("u")} == {
        (Status.NOT_APPLICABLE, "name_unmasked", "name"),
        (Status.NOT_APPLICABLE, "id_number_unmasked", "id_number"),
        (Status.NOT_APPLICABLE, "phone_unmasked", "phone"),
    }
    some = unmet_preconditions("name_masking", Facts(account=True, personal_fields=frozenset({"name"})))
    assert not some.skip and set(some.codes) == {"id_number_unmasked", "phone_unmasked"}
    empty = unmet_preconditions("click_depth", Facts(account=True, catalogue=lambda: False))
    (error,) = empty.findings(HOME)
    assert (error.status, error.code, error.target) == (Status.ERROR, "element_not_found", "catalogue@portal")
    assert not unmet_preconditions(
        "click_depth", Facts(account=False, catalogue=lambda: None)
    ).skip  # unknown
    assert not unmet_preconditions("link_health", Facts(account=False)).skip


def test_the_runner_writes_the_preconditions_findings_without_observing(tmp_path: Path) -> None:
    """No test account: the logged-in checks are not observed (no browser is even asked for);
    a run whose crawl stored no portal items: the catalogue checks are an error the runner wrote."""
    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    sf = session_factory(engine)
    config = load_config(DEFAULT_CONFIG_DIR, validate_probes=False)
    portal = profile(probes={"name_masking": {"user_centre_url": "https://zw.example.gov.cn/uc#me"}})
    run_id = store.start_run(sf, "audit", portals=[portal])
    audit = PortalCheckRunner(
        config,
        portal,
        run_id,
        secrets=Secrets(None),
        browser=None,
        session_factory=sf,
        evidence_root=tmp_path,
    )

    async def go() -> dict[str, list[Finding]]:
        names = ("name_masking", "duplicate_login", "click_depth", "guide_completeness")
        return {n: await audit.run_check(n) for n in names}

    found = asyncio.run(go())
    assert {(f.status, f.code, f.target) for f in found["name_masking"]} == {
        (Status.NOT_APPLICABLE, c, "https://zw.example.gov.cn/uc")
        for c in ("name_unmasked", "id_number_unmasked", "phone_unmasked")
    }
    assert [(f.status, f.code, f.target) for f in found["duplicate_login"]] == [
        (Status.NOT_APPLICABLE, None, HOME)
    ]
    for name in ("click_depth", "guide_completeness"):
        assert [(f.status, f.code, f.target) for f in found[name]] == [
            (Status.ERROR, "element_not_found", "catalogue@portal")
        ]
        assert explain(
            name, "catalogue@portal", "error", "element_not_found", found[name][0].detail
        ).startswith("本次采集未读到门户的办事事项目录")
    assert audit.observations == {}  # nothing observed, nothing stored
    engine.dispose()


def test_evidence_of_an_undeclared_kind_is_refused(tmp_path: Path) -> None:
    writer = EvidenceWriter(1, "zw", "auth_https", root=tmp_path)
    assert writer.url("https://a/").kind == "url"
    writer.text("json_excerpt", "a.json", "{}")
    writer.text("observation", "observation.json", "{}")  # the runner's, for every check
    with pytest.raises(UndeclaredEvidenceError, match="final_url"):
        writer.url("https://a/", kind="final_url")
    with pytest.raises(UndeclaredEvidenceError, match="dom_excerpt"):
        writer.text("dom_excerpt", "page.txt", "x")
    assert not (writer.root / writer.relative_dir / "page.txt").exists()  # refused before writing
    EvidenceWriter(1, "zw", "stand_in", root=tmp_path).url("https://a/", kind="anything")  # undeclared check
    for name, spec in declarations().checks.items():
        assert spec.evidence, name
        kinds = EvidenceWriter(1, "zw", name, root=tmp_path).kinds
        assert kinds == frozenset(spec.evidence), name


def test_undeclared_codes_of_the_converted_checks_are_refused() -> None:
    with pytest.raises(UndeclaredCodeError):
        Finding("name_masking", "https://a/u", Status.FAIL, "second_login")
    with pytest.raises(UndeclaredCodeError):
        Finding("duplicate_login", "https://a/", Status.NOT_APPLICABLE, "name_unmasked")
    with pytest.raises(UndeclaredCodeError):
        Finding("click_depth", "C1@portal", Status.FAIL, "too_deeep")


@pytest.mark.parametrize("check", sorted(declarations().checks))
def test_every_error_kind_reads_as_one_chinese_sentence(check: str) -> None:
    english = "net::ERR_SOMETHING while loading (stage home)"
    for kind in ErrorKind:
        for detail in (
            {"error": english},
            {"error": english, "url": "https://a/x", "status": 503, "timeout_s": 120},
        ):
            text = explain(check, "https://zw.example.gov.cn/x", "error", kind.value, detail)
            assert CJK.search(text) and english not in text, (check, kind, text)
            assert "{" not in text and "None" not in text and "\n" not in text, (check, kind, text)
            assert "未知原因" not in text, (check, kind, text)
    assert explain(check, "t", "error", "timeout", {"timeout_s": 120}) == "检查超时（超过 120 秒未完成）"


def test_error_sentences_name_what_happened() -> None:
    assert explain("name_masking", "https://a/", "error", "captcha", {"error": "x"}) == (
        "登录页要求验证码，无法自动登录（请先运行 zwaudit login 保存登录会话）"
    )
    assert explain("auth_https", "https://a/", "error", "tls", {"error": "x"}).startswith(
        "统一登录HTTPS：与 https://a/"
    )
    assert "HTTP 503" in explain("link_health", "https://a/", "error", "http_status", {"status": 503})
    assert "“mz”" in explain(
        "duplicate_login", "https://mz/", "error", "element_not_found", {"department": "mz"}
    )
    assert "登录时未找到" in explain(
        "auth_https", "https://a/", "error", "element_not_found", {"stage": "login"}
    )


@pytest.mark.parametrize("check", sorted(declarations().checks))
def test_every_unmet_precondition_reads_as_one_chinese_sentence(check: str) -> None:
    spec = declarations().checks[check]
    for facts in (Facts(account=False), Facts(account=True, catalogue=lambda: False)):
        unmet = unmet_preconditions(check, facts)
        for f in unmet.findings("https://zw.example.gov.cn/") if unmet.skip else []:
            text = explain(check, f.target, f.status.value, f.code, f.detail)
            assert CJK.search(text) and "the " not in text and "不适用" not in text, (check, text)
            assert spec.label in text or "测试账号" in text, text
