"""The ground truth of a running province, derived from its plan and its real addresses.

Format and targets: docs/architecture.md (§ Targets, § Ground truth). Every target a check examines
is listed, with ``pass`` for compliant cases, so any other ``fail`` is a false positive.
"""

from __future__ import annotations

from typing import Any

from sandbox.offered import catalogue_split
from sandbox.plan import ChannelPlan, Plan, channel_copy
from sandbox.search import judge, keyword_rules, search
from sandbox.web.kit import Runtime
from zwaudit.outcomes import ErrorKind
from zwaudit.registry import declared_codes
from zwaudit.targets import item_target, normalize_url

Expectation = dict[str, Any]
# What each name style looks like on the page (the evaluators' notation; ``plain`` = the full name).
NAME_DISPLAY = {
    "plain": "张三",
    "keep_first": "张*",
    "keep_first_last": "张*三",
    "keep_first_stars": "张**",
    "hide_first": "*大友",
}


def _exp(probe: str, target: str, code: str | None) -> Expectation:
    """One expectation; its code must be one the check declares (``config/checks.yaml``)."""
    if code is not None and code not in declared_codes(probe):
        raise ValueError(f"ground truth: {probe} does not declare reason code {code!r}")
    out = {"probe": probe, "target": target, "status": "fail" if code else "pass"}
    if code:
        out["code"] = code
    return out


def error_expectations(rt: Runtime) -> list[Expectation]:
    """The hostile targets: ``{"status": "error", "code": <ErrorKind>}``; ``"required": false``
    when the check may never examine the target (then only a verdict or a wrong kind counts)."""
    out: list[Expectation] = []
    for et in rt.plan.error_targets:
        url = rt.url(et.site, et.path) if et.site else et.path
        ErrorKind(et.kind)  # an error expectation's code is an error kind (ValueError otherwise)
        exp: Expectation = {
            "probe": et.probe,
            "target": normalize_url(url),
            "status": "error",
            "code": et.kind,
        }
        if not et.required:
            exp["required"] = False
        out.append(exp)
    return out


def _channel_code(code: str, channel: ChannelPlan) -> str | None:
    if code in channel.missing:
        return "item_missing"
    if code in channel.mismatch:
        return "field_mismatch"
    if code in channel.stale:
        return "stale"
    return None


def _search_expectations(plan: Plan) -> list[Expectation]:
    """Every family is judged against the portal's own catalogue, one row per failing code."""
    out: list[Expectation] = []
    catalogue = [it.name for it in plan.items]
    for keyword in keyword_rules().rules:
        codes = judge(keyword, [it.name for it in search(plan, keyword)], catalogue)
        out += [_exp("search_accuracy", keyword, c) for c in codes] or [
            _exp("search_accuracy", keyword, None)
        ]
    return out


def expectations(rt: Runtime, home_url: str) -> list[Expectation]:
    plan = rt.plan
    out: list[Expectation] = _search_expectations(plan)

    login_page = normalize_url(rt.sso_login_url("x"))
    a = plan.auth
    auth_codes: list[str] = []
    if a.login_over_http:
        auth_codes = ["login_page_http"]
    elif a.untrusted_cert:
        auth_codes = ["certificate_invalid"]
    else:
        auth_codes += ["form_posts_http"] if a.form_posts_http else []
        auth_codes += ["mixed_content"] if a.mixed_content else []
        auth_codes += [] if a.hsts else ["hsts_missing"]
    out += [_exp("auth_https", login_page, c) for c in auth_codes] or [_exp("auth_https", login_page, None)]

    centre = normalize_url(rt.url("portal", plan.user_centre_path))
    m = plan.masking
    mask_codes = []
    mask_codes += ["name_unmasked"] if m.name == "plain" or m.name_leaks_in_api else []
    mask_codes += ["id_number_unmasked"] if m.id_number == "plain" else []
    mask_codes += ["phone_unmasked"] if m.phone == "plain" else []
    out += [_exp("name_masking", centre, c) for c in mask_codes] or [_exp("name_masking", centre, None)]

    for dept in plan.depts:
        entry = normalize_url(rt.url(f"dept:{dept.id}", dept.entry_path))
        out.append(_exp("duplicate_login", entry, None if dept.login == "sso" else dept.login))

    for item in plan.items:
        out.append(
            _exp("data_same_source", item_target(item.code, "mobile"), _channel_code(item.code, plan.mobile))
        )
        dept_site = plan.dept_of(item)
        if dept_site is not None:
            channel = plan.dept_channels.get(dept_site.id, ChannelPlan())
            target = item_target(item.code, f"dept:{dept_site.id}")
            out.append(_exp("data_same_source", target, _channel_code(item.code, channel)))
    for item in plan.items:
        missing = item.code in plan.incomplete
        out.append(
            _exp(
                "guide_completeness", item_target(item.code, "portal"), "element_missing" if missing else None
            )
        )
    out += _channel_guides(plan)
    for item in plan.items:
        deep = item.code in plan.deep
        out.append(_exp("click_depth", item_target(item.code, "portal"), "too_deep" if deep else None))
    if plan.cancelled:
        out += [
            _exp("cancelled_items", item_target(c, "portal"), "still_listed") for c in sorted(plan.cancelled)
        ]
    else:
        out.append(_exp("cancelled_items", "catalogue@portal", None))
    if plan.broken_links:
        out += [
            _exp("link_health", normalize_url(rt.url("portal", p)), "broken_link")
            for p, _ in plan.broken_links
        ]
    else:
        out.append(_exp("link_health", normalize_url(home_url), None))
    return out + error_expectations(rt)


def _channel_guides(plan: Plan) -> list[Expectation]:
    """guide_completeness on the mobile and department channels (issue 13): every copy a channel
    shows is judged; it lacks elements where the item is planted incomplete (absent on every
    channel), where the copy drops its 实施编码 (``nocode``), and where the channel drops a section
    the portal publishes (``absent``, class 6: reported once, here, as ``element_missing`` on the
    channel lacking it; data_same_source compares only the elements both show)."""
    out: list[Expectation] = []
    for item in plan.items:
        dept_site = plan.dept_of(item)
        channels = [("mobile", plan.mobile)]
        if dept_site is not None:
            channels.append((f"dept:{dept_site.id}", plan.dept_channels.get(dept_site.id, ChannelPlan())))
        for name, channel in channels:
            if channel_copy(plan, item, channel) is None:
                continue
            gap = item.code in plan.incomplete or item.code in channel.nocode or item.code in channel.absent
            out.append(
                _exp("guide_completeness", item_target(item.code, name), "element_missing" if gap else None)
            )
    return out


def item_counts(rt: Runtime) -> dict[str, int]:
    plan = rt.plan
    counts = {"portal": len(plan.items)}
    counts["mobile"] = sum(1 for it in plan.items if channel_copy(plan, it, plan.mobile) is not None)
    for dept in plan.depts:
        channel = plan.dept_channels.get(dept.id, ChannelPlan())
        counts[f"dept:{dept.id}"] = sum(
            1
            for it in plan.items
            if it.department == dept.department and channel_copy(plan, it, channel) is not None
        )
    return counts


def ground_truth(
    rt: Runtime, home_url: str, family: str = "sandbox-1", extra_notes: dict[str, Any] | None = None
) -> dict[str, Any]:
    plan = rt.plan
    truth: dict[str, Any] = {
        "portal_id": plan.id,
        "family": family,
        "style": plan.style,
        "expectations": expectations(rt, home_url),
        "item_counts": item_counts(rt),
        "notes": {
            "captcha_login": plan.auth.captcha,
            "search_synonyms": {k: list(v) for k, v in plan.synonyms.items()},
            "search_fulltext": plan.fulltext_search,
            "name_mask_style": plan.masking.name,
            "name_display": NAME_DISPLAY[plan.masking.name],
            "name_leaks_in_api": plan.masking.name_leaks_in_api,
            "robots_disallow": list(plan.robots_disallow),
            "synthetic_items": sorted(it.code for it in plan.items if it.synthetic),
            "untrusted_login_certificate": plan.auth.untrusted_cert,
            # expected services of config/keywords.yaml this portal's catalogue does not offer
            "not_offered": {
                k: lacking for k in keyword_rules().rules if (lacking := catalogue_split(plan, k)[1])
            },
        },
    }
    truth["notes"].update(extra_notes or {})
    return truth
