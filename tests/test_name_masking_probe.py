"""name_masking's observer on the sandbox: a captcha without a saved session is an error."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zwaudit.findings import Finding
from zwaudit.outcomes import Status


@pytest.mark.browser
def test_captcha_login_without_saved_session_is_error_captcha(
    run_check: Callable[[str, str], list[Finding]],
) -> None:
    (finding,) = run_check("sbx-jin", "name_masking")
    assert (finding.status, finding.code) == (Status.ERROR, "captcha")
    assert "zwaudit login" in finding.detail["error"]
