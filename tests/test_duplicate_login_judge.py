"""duplicate_login's judge and its sampling, with hand-made arrivals (no browser)."""

from __future__ import annotations

from probes.common.discovery import spread
from probes.duplicate_login import Arrival, DuplicateLoginObservation, judge, judge_arrival
from zwaudit.outcomes import ErrorKind, Status

AUTH = "auth.zw.example.gov.cn"
ENTRY = "https://mz.example.gov.cn:443/wsbs/apply?item=123#x"


def arrive(**kw: object) -> Arrival:
    base: dict[str, object] = {"entry_url": ENTRY, "found_on": "https://zw.example.gov.cn/guide?id=1"}
    base.update(kw)
    return Arrival(**base)  # type: ignore[arg-type]


def test_arriving_logged_in_passes() -> None:
    f = judge_arrival(arrive(final_url="https://mz.example.gov.cn/wsbs/apply", logged_in_sign="退出"), AUTH)
    assert (f.status, f.code, f.target) == (Status.PASS, None, "https://mz.example.gov.cn/wsbs/apply")


def test_own_password_form_is_second_login() -> None:
    f = judge_arrival(arrive(final_url="https://mz.example.gov.cn/login", password_form=True), AUTH)
    assert (f.status, f.code) == (Status.FAIL, "second_login")
    assert f.detail["unified"] is False


def test_password_form_wins_over_a_logout_link() -> None:
    """A page that shows 退出 in a header but asks for the password again is a second login."""
    f = judge_arrival(
        arrive(final_url="https://mz.example.gov.cn/x", password_form=True, logged_in_sign="退出"), AUTH
    )
    assert f.code == "second_login"


def test_registration_form_is_re_registration() -> None:
    f = judge_arrival(
        arrive(final_url="https://rs.example.gov.cn/register", registration_form=True, password_form=True),
        AUTH,
    )
    assert (f.status, f.code) == (Status.FAIL, "re_registration")


def test_login_page_without_password_field_on_another_host() -> None:
    """A QR-code / SMS login of the department's own: still a second login."""
    f = judge_arrival(
        arrive(final_url="https://mz.example.gov.cn/sso/login", title="民政厅 - 扫码登录"), AUTH
    )
    assert f.code == "second_login"


def test_cannot_tell_is_an_error_never_a_verdict() -> None:
    f = judge_arrival(arrive(final_url="https://mz.example.gov.cn/wsbs/apply", title="网上办事"), AUTH)
    assert (f.status, f.code) == (Status.ERROR, ErrorKind.NOT_FOUND.value)
    g = judge_arrival(arrive(error_kind=ErrorKind.TIMEOUT, error="timed out"), AUTH)
    assert (g.status, g.code) == (Status.ERROR, "timeout")


def test_judge_keeps_one_finding_per_arrival() -> None:
    arrivals = (
        arrive(final_url=ENTRY, logged_in_sign="退出"),
        arrive(entry_url="https://b.gov.cn/a", final_url="https://b.gov.cn/login", password_form=True),
    )
    assert [f.status for f in judge(DuplicateLoginObservation(AUTH, arrivals))] == [Status.PASS, Status.FAIL]


def test_sample_spreads_over_departments_and_dedupes_entries() -> None:
    entries = [
        ("https://a.gov.cn/wsbs/apply?item=1", "p1"),
        ("https://a.gov.cn/wsbs/apply?item=2", "p2"),  # same entry once normalised
        ("https://a.gov.cn/other", "p3"),
        ("https://b.gov.cn/wsbs/apply?item=3", "p4"),
        ("https://c.gov.cn/wsbs/apply", "p5"),
    ]
    assert [u for u, _ in spread(entries, 3)] == [
        "https://a.gov.cn/wsbs/apply?item=1",
        "https://b.gov.cn/wsbs/apply?item=3",
        "https://c.gov.cn/wsbs/apply",
    ]
    assert len(spread(entries, 10)) == 4
