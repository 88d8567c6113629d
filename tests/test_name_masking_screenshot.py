"""Masked screenshots: the pixels where personal data was shown are painted over."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from probe_fixtures import BrowserHarness

from probes.common.evidence import masked_screenshot
from zwaudit.evidence import EvidenceWriter
from zwaudit.redact import Redactor

PERSON = {"name": "张大友", "id_number": "33010219800101123X", "phone": "13800138000"}
PAGE = """<html><body style="background:#fff;font-size:20px">
<h1>个人中心</h1>
<p>姓名：<span id="name">张*友</span></p>
<p id="id">证件号码：330102 19800101 123X</p>
<p>手机 <b id="p1">138</b><i id="p2">00138000</i></p>
<input id="phone" value="13800138000">
<p id="other">办事记录 3 条</p>
</body></html>"""

_PIXELS_JS = """
async ([png, boxes]) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + png;
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.width; c.height = img.height;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  return boxes.map((b) => {
    const d = g.getImageData(Math.floor(b.x + 1), Math.floor(b.y + 1), Math.max(1, Math.floor(b.width - 2)), Math.max(1, Math.floor(b.height - 2))).data;
    let dark = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 16 && d[i + 1] < 16 && d[i + 2] < 16) dark++;
    return dark / (d.length / 4);
  });
}
"""


@pytest.mark.browser
def test_screenshot_masks_every_element_showing_personal_data(
    browser_harness: BrowserHarness, tmp_path: Path
) -> None:
    writer = EvidenceWriter(1, "zw", "name_masking", Redactor(PERSON), root=tmp_path)

    async def go() -> tuple[list[float], str]:
        context = await browser_harness.browser.new_context()
        try:
            page = await context.new_page()
            await page.set_content(PAGE)
            ref = await masked_screenshot(page, writer, "uc", [*PERSON.values(), "张*友"])
            assert ref is not None and ref.sha256
            boxes = [
                await page.locator(sel).bounding_box()
                for sel in ("#name", "#id", "#phone", "p:has(#p1)", "#other")
            ]
            png = base64.b64encode((tmp_path / str(ref.path)).read_bytes()).decode()
            ratios: list[float] = await page.evaluate(_PIXELS_JS, [png, boxes])
            return ratios, str(ref.path)
        finally:
            await context.close()

    (name, id_number, phone, split, other), path = browser_harness.run(go())
    assert name > 0.95 and id_number > 0.95 and phone > 0.95  # painted over
    assert split > 0.95  # a phone split over <b>138</b><i>00138000</i>: its smallest holder
    assert other < 0.5  # the rest of the page stays readable
    assert path.endswith(".png") and path.startswith("run-1/zw/name_masking/")
