"""What a person sees as clickable and what a click would do: one definition for the crawler's
clicking (:mod:`crawler.clicks`) and the probes' walks (:mod:`probes.common.page`,
:mod:`probes.common.discovery`, the search and login observers).

Both sides decide the same two questions on pages they do not know: "does this look clickable to
a person?" (in-page script, spliced into their own scripts) and "would clicking it change
something?" (the words that name an action). Written twice, the two answers drift apart; here
they are written once, in the core, because the crawler must not import the probes.
"""

from __future__ import annotations

import re

# A pointer cursor that starts on an element (the cursor is inherited, so not on its children)
# marks a click bound in script: component frameworks leave no href and no onclick attribute.
POINTER_STARTS_JS = """
  const pointerStarts = (el) => getComputedStyle(el).cursor === 'pointer'
    && !(el.parentElement && getComputedStyle(el.parentElement).cursor === 'pointer');
"""

# Laid out with a size and not hidden by style: what a person can see and click.
VISIBLE_JS = """
  const visible = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
"""

#: Controls named by these words act (submit, delete, pay …) rather than show a page: never
#: clicked by the crawler or a probe's walk.
ACTION_WORDS = (
    "提交",
    "删除",
    "撤回",
    "撤销",
    "取消",
    "确认",
    "确定",
    "保存",
    "支付",
    "缴费",
    "付款",
    "上传",
    "下载",
    "打印",
    "评价",
    "收藏",
    "分享",
    "关注",
    "预约",
    "submit",
    "delete",
    "cancel",
    "confirm",
    "save",
    "pay",
    "upload",
    "download",
    "print",
)

#: Ways out of or into the session: never followed, never clicked (a logout ends the audit's
#: session; a login or registration form is no page of the catalogue).
EXIT_WORDS = (
    "退出",
    "注销",
    "登录",
    "注册",
    "logout",
    "signout",
    "sign_out",
    "logoff",
    "exit",
    "login",
    "register",
)


def starts_with_action(words: tuple[str, ...] = ACTION_WORDS) -> re.Pattern[str]:
    """A pattern matching a control text that starts with one of ``words`` (case-insensitive)."""
    return re.compile("^(?:" + "|".join(map(re.escape, words)) + ")", re.I)


def mentions(words: tuple[str, ...]) -> re.Pattern[str]:
    """A pattern matching a text that contains one of ``words`` (case-insensitive)."""
    return re.compile("|".join(map(re.escape, words)), re.I)
