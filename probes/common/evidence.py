"""Evidence that cannot leak the test account: masked screenshots and sanitised excerpts.

Screenshots use Playwright's ``mask``: every element whose own text (or field value) contains one
of the account's values — in full or in any rendering the page used (``张*三``) — is painted over
before the pixels are written. Text excerpts are cut around the proof and pass through the
portal's redactor in :class:`~zwaudit.evidence.EvidenceWriter`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from zwaudit.evidence import EvidenceWriter, safe_name
from zwaudit.findings import EvidenceRef

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

log = logging.getLogger("probes.evidence")
MASK_ATTR = "data-zw-mask"

_MARK_JS = """
([needles, attr]) => {
  let n = 0;
  const norm = (t) => (t || '').replace(/[\\s\\-]/g, '');
  const hit = (t) => { const s = norm(t); return s && needles.some((x) => s.includes(x)); };
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (hit(node.nodeValue) && node.parentElement) { node.parentElement.setAttribute(attr, '1'); n++; }
  }
  for (const el of document.querySelectorAll('input, textarea, select')) {
    const v = el.tagName === 'SELECT' ? (el.selectedOptions[0] || {}).text : el.value;
    if (hit(v) || hit(el.placeholder)) { el.setAttribute(attr, '1'); n++; }
  }
  // text split over siblings (<b>张</b><i>*三</i>): mask the smallest element whose text holds it
  for (const el of document.querySelectorAll('body *')) {
    if (el.hasAttribute(attr) || !hit(el.innerText)) continue;
    if ([...el.children].some((c) => hit(c.innerText))) continue;
    el.setAttribute(attr, '1'); n++;
  }
  return n;
}
"""


def needles(values: list[str]) -> list[str]:
    """The strings to mask, without separators (matched against text with them removed)."""
    out = {v.replace(" ", "").replace("-", "") for v in values if v and len(v.strip()) >= 2}
    return sorted(out, key=len, reverse=True)


async def mask_locators(page: Page, values: list[str]) -> list[Locator]:
    """Mark and return the elements (in every frame) that show any of ``values``."""
    wanted = needles(values)
    masks: list[Locator] = []
    if not wanted:
        return masks
    for frame in page.frames:
        try:
            count = await frame.evaluate(_MARK_JS, [wanted, MASK_ATTR])
        except Exception:  # a frame that went away cannot be in the screenshot either
            continue
        if count:
            masks.append(frame.locator(f"[{MASK_ATTR}]"))
    return masks


async def masked_screenshot(
    page: Page, evidence: EvidenceWriter, name: str, values: list[str]
) -> EvidenceRef | None:
    """A full-page PNG with every element showing personal data painted over; None on failure."""
    path = evidence.path_for(f"{safe_name(name)}.png")
    try:
        masks = await mask_locators(page, values)
        await page.screenshot(
            path=str(path), full_page=True, mask=masks, mask_color="#000000", animations="disabled"
        )
    except Exception as exc:  # evidence is best effort; the finding stands on the excerpt
        log.warning("screenshot of %s failed: %s", evidence.redact(page.url), exc)
        path.unlink(missing_ok=True)
        return None
    return evidence.register("screenshot", path, "image/png")


def excerpt(text: str, start: int, end: int, width: int = 300) -> str:
    """The text around ``[start, end)`` (the caller's redactor masks the personal data in it)."""
    lo, hi = max(0, start - width), min(len(text), end + width)
    return ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")
