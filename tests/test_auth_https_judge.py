"""The auth_https judge from hand-made observations (no browser, no network)."""

from __future__ import annotations

from pathlib import Path

from probes.auth.judge import (
    PREDICATES,
    AuthObservation,
    CertificateCheck,
    PasswordSubmission,
    hsts_max_age,
    judge_auth,
)
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.registry import declared_codes

LOGIN = "https://sso.example.gov.cn:8443/login?service=x#top"
TARGET = "https://sso.example.gov.cn:8443/login"
GOOD_CERT = CertificateCheck(valid=True)
HSTS = "max-age=31536000; includeSubDomains"


def compliant(**changes: object) -> AuthObservation:
    o = AuthObservation(
        start_url="https://www.example.gov.cn/",
        login_url=LOGIN,
        chain=["https://www.example.gov.cn/", LOGIN],
        form_action="https://sso.example.gov.cn:8443/doLogin",
        form_method="post",
        submissions=[PasswordSubmission("POST", "https://sso.example.gov.cn:8443/api/login", "xhr")],
        hsts=HSTS,
        certificate=GOOD_CERT,
    )
    for key, value in changes.items():
        setattr(o, key, value)
    return o


def codes(o: AuthObservation) -> list[tuple[str, str | None]]:
    return [(f.status.value, f.code) for f in judge_auth(o)]


def test_compliant_login_is_one_pass_on_the_normalised_target() -> None:
    [f] = judge_auth(compliant())
    assert (f.status, f.code, f.target) == (Status.PASS, None, TARGET)
    assert f.detail["password_destinations"] == ["https://sso.example.gov.cn:8443/api/login"]


def test_http_login_page() -> None:
    """An http page posting to http is one defect, login_page_http; no https-only codes."""
    o = compliant(
        login_url="http://sso.example.gov.cn/login",
        form_action="http://sso.example.gov.cn/doLogin",
        submissions=[PasswordSubmission("POST", "http://sso.example.gov.cn/doLogin", "form")],
        hsts=None,
        certificate=None,
        insecure_subresources=["http://cdn.example.gov.cn/a.js"],
    )
    assert codes(o) == [("fail", "login_page_http")]
    assert {f.target for f in judge_auth(o)} == {"http://sso.example.gov.cn/login"}


def test_http_page_posting_to_https_is_only_login_page_http() -> None:
    o = compliant(login_url="http://sso.example.gov.cn/login", hsts=None, certificate=None)
    assert codes(o) == [("fail", "login_page_http")]


def test_https_page_posting_password_over_http() -> None:
    o = compliant(submissions=[PasswordSubmission("POST", "http://sso.example.gov.cn/api/login", "fetch")])
    assert codes(o) == [("fail", "form_posts_http")]


def test_observed_submission_wins_over_form_action() -> None:
    """The form says http but JavaScript sends the password over https: compliant."""
    assert codes(compliant(form_action="http://sso.example.gov.cn/doLogin")) == [("pass", None)]


def test_form_action_used_when_nothing_observed() -> None:
    o = compliant(submissions=[], form_action="http://sso.example.gov.cn/doLogin")
    assert codes(o) == [("fail", "form_posts_http")]


def test_inferred_submission_counts_when_no_request_carried_the_plain_password() -> None:
    enc = [PasswordSubmission("POST", "http://sso.example.gov.cn/rsa", "xhr", carries_password=False)]
    assert codes(compliant(submissions=enc)) == [("fail", "form_posts_http")]


def test_mixed_content() -> None:
    o = compliant(insecure_subresources=["http://cdn.example.gov.cn/jquery.js"])
    assert codes(o) == [("fail", "mixed_content")]


def test_certificate_invalid_even_though_the_browser_loaded_the_page() -> None:
    o = compliant(certificate=CertificateCheck(valid=False, problem="self-signed certificate"))
    [f] = judge_auth(o)
    assert (f.status, f.code) == (Status.FAIL, "certificate_invalid")
    assert f.detail["certificate"]["problem"] == "self-signed certificate"


def test_hsts_missing_or_zero() -> None:
    assert codes(compliant(hsts=None)) == [("fail", "hsts_missing")]
    assert codes(compliant(hsts="max-age=0")) == [("fail", "hsts_missing")]
    assert hsts_max_age('max-age="600"; preload') == 600 and hsts_max_age("includeSubDomains") is None


def test_several_defects_one_finding_per_code() -> None:
    o = compliant(
        hsts=None, insecure_subresources=["http://x/a.css"], certificate=CertificateCheck(False, "expired")
    )
    assert codes(o) == [("fail", "mixed_content"), ("fail", "certificate_invalid"), ("fail", "hsts_missing")]


def test_entry_not_found_is_an_error_never_a_fail() -> None:
    o = AuthObservation(
        start_url="https://www.example.gov.cn/", error=ErrorKind.NOT_FOUND, error_message="no 登录"
    )
    [f] = judge_auth(o)
    assert (f.status, f.code, f.target) == (Status.ERROR, "element_not_found", "https://www.example.gov.cn/")


def test_unverified_certificate_blocks_a_pass() -> None:
    o = compliant(certificate=CertificateCheck(None, "connection reset", ErrorKind.CONNECTION))
    [f] = judge_auth(o)
    assert (f.status, f.code) == (Status.ERROR, "connection")
    # …but does not hide a defect that was established
    assert codes(compliant(certificate=None, hsts=None)) == [("fail", "hsts_missing")]


def test_unseen_submission_blocks_a_pass() -> None:
    [f] = judge_auth(compliant(submissions=[], form_action=None))
    assert (f.status, f.code) == (Status.ERROR, "element_not_found")


def test_the_check_judges_its_stored_observation(tmp_path: Path) -> None:
    """Two-phase auth_https: the observation survives the JSON file the runner stores (evidence
    references and error kinds included), and the check's judge gives what ``judge_auth`` gives."""
    from probes.auth_https import AuthHttps, AuthHttpsObservation
    from zwaudit import observations
    from zwaudit.evidence import EvidenceWriter
    from zwaudit.findings import EvidenceRef, utcnow

    for login in (
        compliant(hsts=None, insecure_subresources=["http://cdn.example.gov.cn/a.js"]),
        compliant(
            certificate=CertificateCheck(valid=None, problem="refused", error_kind=ErrorKind.CONNECTION),
            evidence=[EvidenceRef("screenshot", "image/png", "run-1/p/auth_https/x.png", sha256="0" * 64)],
        ),
    ):
        observed = AuthHttpsObservation(login=login)
        writer = EvidenceWriter(1, "p", "auth_https", root=tmp_path)
        _, text = observations.write(writer, "auth_https", "1.0.0", observed, utcnow())
        stored = observations.parse(text, AuthHttpsObservation)
        assert stored == observed
        key = [(f.target, f.status, f.code, f.detail, f.evidence) for f in AuthHttps().judge(stored, None)]
        assert key == [(f.target, f.status, f.code, f.detail, f.evidence) for f in judge_auth(login)]


def test_every_declared_code_has_its_predicate_and_no_other() -> None:
    assert set(PREDICATES) == declared_codes("auth_https")
