"""Chinese labels for the report: probes, statuses, reason codes and error kinds.

Unknown names fall back to the name itself, so a new check shows up (in English) rather than
breaking the report.
"""

from __future__ import annotations

PROBES: dict[str, str] = {
    "search_accuracy": "搜索准确性",
    "auth_https": "统一登录HTTPS",
    "name_masking": "姓名脱敏",
    "duplicate_login": "重复登录",
    "data_same_source": "数据同源",
    "guide_completeness": "办事指南完整性",
    "cancelled_items": "已取消事项",
    "click_depth": "点击深度",
    "link_health": "链接可用性",
}

STATUSES: dict[str, str] = {
    "pass": "通过",
    "fail": "不通过",
    "error": "错误",
    "not_applicable": "不适用",
}

CODES: dict[str, str] = {
    # search_accuracy
    "not_found": "搜不到",
    "incomplete": "搜不全",
    "imprecise": "搜不准",
    # auth_https
    "login_page_http": "登录页未使用HTTPS",
    "form_posts_http": "登录表单以HTTP提交",
    "mixed_content": "混合内容",
    "certificate_invalid": "证书无效",
    "hsts_missing": "未启用HSTS",
    # name_masking
    "name_unmasked": "姓名未脱敏",
    "id_number_unmasked": "身份证号未脱敏",
    "phone_unmasked": "手机号未脱敏",
    # duplicate_login
    "second_login": "需二次登录",
    "re_registration": "需重复注册",
    # data_same_source
    "item_missing": "事项缺失",
    "field_mismatch": "要素不一致",
    "stale": "信息未同步",
    # guide / items / depth / links
    "element_missing": "指南要素缺失",
    "still_listed": "已取消事项仍在列",
    "too_deep": "点击层级过深",
    "broken_link": "链接失效",
    # error kinds
    "timeout": "超时",
    "dns": "域名解析失败",
    "tls": "TLS握手失败",
    "connection": "连接失败",
    "http_status": "HTTP状态异常",
    "blocked": "访问被拦截",
    "captcha": "遇到验证码",
    "login_failed": "登录失败",
    "element_not_found": "未找到页面元素",
    "config": "配置错误",
    "internal": "内部错误",
}

TRIGGERS: dict[str, str] = {"nightly": "夜间例行", "audit": "手动检查", "crawl": "采集", "calibrate": "校准"}

CHANGES: dict[str, str] = {
    "new": "新增问题",
    "fixed": "已整改",
    "changed": "状态变化",
    "unresolved": "未能复查",
}


def probe(name: str) -> str:
    return PROBES.get(name, name)


def status(name: str) -> str:
    return STATUSES.get(name, name)


def code(name: str | None) -> str:
    if not name:
        return ""
    return CODES.get(name, name)
