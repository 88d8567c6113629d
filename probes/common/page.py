"""What a person sees on a page: visible links and buttons by text, password fields, page text.

Heuristics look at rendered, visible text and form roles in every frame (logins often sit in an
iframe), never at a particular portal's class names; each caller passes the texts to look for,
which come from the check's ``Options`` so a portal that defeats them can be configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zwaudit.clickables import POINTER_STARTS_JS, VISIBLE_JS

if TYPE_CHECKING:
    from playwright.async_api import Frame, Locator, Page

# Marks candidates so that a Locator can point at the element the script chose.
_CANDIDATES_JS = (
    """
([texts, attr]) => {"""
    + POINTER_STARTS_JS
    + VISIBLE_JS
    + """
  const norm = (t) => (t || '').replace(/\\s+/g, '');
  const out = [];
  const els = document.querySelectorAll('a, button, [role=link], [role=button], [role=tab], [role=menuitem], [onclick], input[type=button], input[type=submit], li, span, div');
  let n = 0;
  for (const el of els) {
    if (!visible(el)) continue;
    if (el.tagName === 'DIV' && !el.matches('[role], [onclick]') && !pointerStarts(el)) continue;
    const label = norm(el.innerText || el.value || el.getAttribute('aria-label') || el.title);
    if (!label || label.length > 40) continue;
    for (let i = 0; i < texts.length; i++) {
      const want = norm(texts[i]);
      if (!want || !label.includes(want)) continue;
      const clickable = el.matches('a, button, [role=link], [role=button], [role=tab], [role=menuitem], [onclick], input')
        || pointerStarts(el);
      if (!clickable && el.querySelector('a, button')) continue;
      el.setAttribute(attr, String(n));
      out.push({mark: String(n), text: label, rank: i, exact: label === want,
                href: el.href || el.getAttribute('href') || null, clickable});
      n += 1;
      break;
    }
  }
  return out;
}
"""
)


@dataclass(frozen=True)
class Candidate:
    """A visible clickable element whose text matched one of the wanted texts."""

    frame: Frame
    mark: str
    text: str
    rank: int  # index of the matched text in the wanted list: earlier = preferred
    exact: bool
    href: str | None
    clickable: bool

    def locator(self) -> Locator:
        return self.frame.locator(f'[data-zw-cand="{self.mark}"]').first

    @property
    def navigable_href(self) -> str | None:
        """The href when following it is the same as clicking (not ``javascript:`` or ``#``)."""
        href = self.href
        if not href or href.startswith(("javascript:", "#", "mailto:", "tel:")) or href.endswith("#"):
            return None
        return href


async def find_clickables(page: Page, texts: list[str]) -> list[Candidate]:
    """Visible links/buttons whose text contains one of ``texts``, best first (all frames)."""
    found: list[Candidate] = []
    for frame in page.frames:
        try:
            await frame.evaluate(
                "(a) => document.querySelectorAll('['+a+']').forEach(e => e.removeAttribute(a))",
                "data-zw-cand",
            )
            rows: list[dict[str, Any]] = await frame.evaluate(_CANDIDATES_JS, [texts, "data-zw-cand"])
        except Exception:  # a detached or cross-origin frame that vanished: nothing to see there
            continue
        found.extend(
            Candidate(frame, r["mark"], r["text"], r["rank"], r["exact"], r["href"], r["clickable"])
            for r in rows
        )
    found.sort(key=lambda c: (c.rank, not c.exact, not c.clickable, len(c.text)))
    return found


async def visible_password_fields(page: Page) -> list[Locator]:
    """Visible password inputs in any frame."""
    out: list[Locator] = []
    for frame in page.frames:
        try:
            fields = frame.locator("input[type=password]")
            for i in range(await fields.count()):
                field = fields.nth(i)
                if await field.is_visible():
                    out.append(field)
        except Exception:
            continue
    return out


_TEXT_JS = """
() => {
  const parts = [document.body ? document.body.innerText : ''];
  for (const el of document.querySelectorAll('input, textarea, select')) {
    if (el.type === 'password' || el.type === 'hidden') continue;
    const v = el.tagName === 'SELECT' ? (el.selectedOptions[0] || {}).text : el.value;
    if (v) parts.push(v);
  }
  return parts.join('\\n');
}
"""


async def visible_text(page: Page) -> str:
    """The rendered text of the page and its frames, plus the values shown in form fields."""
    chunks: list[str] = []
    for frame in page.frames:
        try:
            chunks.append(await frame.evaluate(_TEXT_JS))
        except Exception:
            continue
    return "\n".join(chunks)


async def has_visible_text(page: Page, texts: list[str]) -> str | None:
    """The first of ``texts`` shown as a visible link or button (e.g. 退出), or None."""
    found = await find_clickables(page, texts)
    return found[0].text if found else None
