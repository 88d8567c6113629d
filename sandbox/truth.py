"""The ground truth of a running province, derived from its plan and its real addresses.

Format and targets: docs/architecture.md (§ Targets, § Ground truth). Every target a check examines
is listed, with ``pass`` for compliant cases, so any other ``fail`` is a false positive.
"""

from __future__ import annotations

from typing import Any

from sandbox.plan import ChannelPlan, channel_copy
from sandbox.search import judge, keyword_rules, search
from sandbox.web.kit import Runtime
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


def expectations(rt: Runtime, home_url: str) -> list[Expectation]:
    plan = rt.plan
    out: list[Expectation] = []
    for keyword in keyword_rules().rules:
        _, code = judge(keyword, [it.name for it in search(plan, keyword)])
        out.append(_exp("search_accuracy", keyword, code))

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


def ground_truth(rt: Runtime, home_url: str, extra_notes: dict[str, Any] | None = None) -> dict[str, Any]:
    plan = rt.plan
    truth: dict[str, Any] = {
        "portal_id": plan.id,
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
        },
    }
    truth["notes"].update(extra_notes or {})
    return truth
