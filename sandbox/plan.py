"""What a simulated province is: its items, channels, planted defects and site behaviour.

A province module builds one :class:`Plan`; the web apps render from it and the ground truth is
derived from it, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Literal

from sandbox.catalogue import Guide, Item

LoginMode = Literal["sso", "second_login", "re_registration"]
NameStyle = Literal["plain", "keep_first", "keep_first_last", "keep_first_stars", "hide_first"]
IdStyle = Literal["plain", "first_last", "birth_hidden"]
PhoneStyle = Literal["plain", "masked"]


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    name: str
    id_number: str
    phone: str


@dataclass(frozen=True)
class DeptSite:
    """A department system: its own catalogue of the department's items and an online-handling entry."""

    id: str
    name: str
    department: str  # the items' department (catalogue.Item.department)
    login: LoginMode
    catalogue_path: str = "/bsfw/list"
    guide_path: str = "/bsfw/detail"
    entry_path: str = "/wsbs/apply"


@dataclass(frozen=True)
class ChannelPlan:
    """How one channel's copy of the portal items differs (data_same_source plants)."""

    missing: frozenset[str] = frozenset()
    mismatch: dict[str, str] = field(default_factory=dict)  # code -> 申请材料 | 承诺办结时限 | 收费标准
    stale: frozenset[str] = frozenset()
    nocode: frozenset[str] = frozenset()  # copy lists the name (other punctuation) but not the code
    # code -> elements this channel's guide lacks while the portal publishes them (issue 13,
    # class 6: guide_completeness ``element_missing`` on the channel's copy, reported once)
    absent: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthPlan:
    """The unified login's transport (auth_https plants)."""

    login_over_http: bool = False  # login_page_http
    form_posts_http: bool = False
    mixed_content: bool = False
    untrusted_cert: bool = False  # certificate_invalid
    hsts: bool = True  # False → hsts_missing
    captcha: bool = False


@dataclass(frozen=True)
class MaskPlan:
    """How the user centre shows the account's personal data (name_masking plants)."""

    name: NameStyle
    id_number: IdStyle
    phone: PhoneStyle
    name_leaks_in_api: bool = False


@dataclass(frozen=True)
class ErrorTarget:
    """A hostile target: where a check can only conclude ``error`` of ``kind`` (an ErrorKind value).

    ``required``: the check certainly examines it (a link the crawler must fetch), so silence is a
    miss; otherwise only a verdict or a wrong kind counts against the auditor (a probe that may
    never sample it).
    """

    probe: str
    site: str  # a site of the province (portal, tarpit, …) or "" when ``path`` is an absolute URL
    path: str
    kind: str
    required: bool = True


@dataclass(frozen=True)
class Plan:
    id: str
    name: str  # 蜀南省政务服务网
    province: str  # 蜀南省
    style: str
    prefix: str  # cookie-name prefix, unique per province
    portal_https: bool
    items: tuple[Item, ...]  # the portal's items, in listing order
    depts: tuple[DeptSite, ...]
    account: Account
    auth: AuthPlan
    masking: MaskPlan
    mobile: ChannelPlan = ChannelPlan()
    dept_channels: dict[str, ChannelPlan] = field(default_factory=dict)
    deep: frozenset[str] = frozenset()  # codes reachable only through a 5-click chain
    incomplete: dict[str, tuple[str, ...]] = field(default_factory=dict)  # code -> absent elements
    cancelled: frozenset[str] = frozenset()  # codes of State-Council-cancelled items still listed
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fulltext_search: bool = False
    broken_links: tuple[
        tuple[str, str], ...
    ] = ()  # (portal path answering 4xx/5xx, path of the page linking it)
    robots_disallow: tuple[str, ...] = ()  # linked from home, answers 500, never fetched by a polite crawler
    label_aliases: dict[str, str] = field(default_factory=dict)  # element -> the label this portal shows
    user_centre_path: str = "/user/center"
    mobile_path: str = "/h5/index"  # the H5 channel's entry (and catalogue) page
    home_path: str = "/"
    level: Literal["province", "city"] = "province"  # the profile's ``level``
    error_targets: tuple[ErrorTarget, ...] = ()  # hostile targets: ``error`` of a kind, never a verdict

    def item(self, code: str) -> Item:
        for it in self.items:
            if it.code == code:
                return it
        raise KeyError(code)

    def portal_guide(self, item: Item) -> Guide:
        """The guide as the portal shows it (incomplete items lack their elements on every channel)."""
        return item.guide.without(self.incomplete.get(item.code, ()))

    def dept_of(self, item: Item) -> DeptSite | None:
        for d in self.depts:
            if d.department == item.department:
                return d
        return None

    def label(self, element: str) -> str:
        return self.label_aliases.get(element, element)


@dataclass(frozen=True)
class Copy:
    """One channel's copy of a portal item."""

    code: str | None
    name: str
    guide: Guide


def _other_punctuation(name: str) -> str:
    """``（县级）`` → ``(县级)``, and the reverse: the same item written by another editor."""
    if "（" in name:
        return name.replace("（", "(").replace("）", ")")
    if "(" in name:
        return name.replace("(", "（").replace(")", "）")
    return re.sub(r"^(.{2})", r"\1 ", name)  # no brackets: an inserted space


def channel_copy(plan: Plan, item: Item, channel: ChannelPlan) -> Copy | None:
    """The channel's copy of ``item`` with the planted differences, or None when it is missing."""
    if item.code in channel.missing:
        return None
    guide = plan.portal_guide(item)
    what = channel.mismatch.get(item.code)
    fields = dict(guide.fields)
    materials = guide.materials
    if what == "申请材料":
        materials = (*materials[:-1], "其他材料（原件及复印件各一份）", "单位介绍信")
    elif what == "承诺办结时限" and "承诺办结时限" in fields:
        fields["承诺办结时限"] = "20个工作日" if fields["承诺办结时限"] != "20个工作日" else "1个工作日"
    elif what == "收费标准":
        fields["是否收费"] = "是"
        fields["收费标准"] = "按件收取手续费80元"
    updated = (
        guide.updated - timedelta(days=200)
        if item.code in channel.stale
        else guide.updated - timedelta(days=2)
    )
    absent = channel.absent.get(item.code, ())
    fields = {k: v for k, v in fields.items() if k not in absent}
    if "申请材料" in absent:
        materials = ()
    copy_guide = replace(guide, fields=fields, materials=materials, updated=updated)
    if item.code in channel.nocode:
        fields.pop("实施编码", None)
        name = _other_punctuation(item.name)
        fields["事项名称"] = name
        return Copy(None, name, replace(copy_guide, fields=fields))
    return Copy(item.code, item.name, copy_guide)
