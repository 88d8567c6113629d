"""Reading guide fields and links from what a portal serves: HTML pages and JSON bodies.

The rules are those of a reader, not of a template: a label (from :mod:`crawler.labels`) followed
by its value — the next cell of a table row, the ``dd`` after a ``dt``, the text after
``"办理时间："``, the list or table under a ``申请材料`` heading. A catalogue's header row (labels
next to labels) yields nothing, so a listing is never mistaken for a guide.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.etree
import lxml.html

from crawler.labels import GuideElements, fold
from crawler.values import fee_badge, fee_stated, is_control, label_text, material_from_table, value_text

LIST_ELEMENTS = frozenset({"申请材料"})
IDENTITY_ELEMENTS = frozenset({"事项名称", "实施编码", "实施主体", "更新时间"})
MIN_GUIDE_ELEMENTS = 2  # beyond the identity: a listing row (name, code, department) is not a guide


def is_guide(found: dict[str, Any]) -> bool:
    """Enough guide elements with values beyond what a catalogue row shows."""
    return sum(1 for k, v in found.items() if v not in (None, "", []) and k not in IDENTITY_ELEMENTS) >= (
        MIN_GUIDE_ELEMENTS
    )


_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head"})
_SPLIT_LIST = re.compile(r"[\n；;]+|(?:^|\s)\d+[.、)）]\s*")
_ONCLICK_URL = re.compile(
    r"""(?:location(?:\.href)?\s*=|window\.open\(|location\.assign\()\s*['"]([^'"]+)['"]"""
)
_CODE_IN_TEXT = re.compile(r"[0-9A-Za-z][0-9A-Za-z\-]{5,}")
_MATERIAL_KEYS = ("materialname", "material_name", "name", "clmc", "材料名称", "title")


@dataclass
class Link:
    url: str
    text: str


@dataclass
class Guide:
    """One guide as read from a page or a JSON body: normalised element name → value."""

    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.fields.get("事项名称") or "").strip()

    @property
    def code(self) -> str | None:
        raw = str(self.fields.get("实施编码") or "").strip()
        match = _CODE_IN_TEXT.search(raw)
        return match.group(0) if match else None

    @property
    def department(self) -> str | None:
        value = str(self.fields.get("实施主体") or "").strip()
        return value or None


def _text(el: Any) -> str:
    return fold(" ".join(t for t in el.itertext() if t))


def _is_element(el: Any) -> bool:
    return isinstance(el.tag, str) and el.tag not in _SKIP_TAGS


def _list_values(el: Any) -> list[str]:
    """A material list from a ``ul/ol`` (an item may be a small table of its own), a table (the
    name column), or text split on separators."""
    items = [_list_item(li) for li in el.iter("li") if not _in_li(li, el)]
    if items:
        return [i for i in items if i]
    rows = list(el.iter("tr"))
    if rows:
        header = [_text(c) for c in rows[0] if _is_element(c)]
        column = next((i for i, h in enumerate(header) if "名称" in h), None)
        body = rows[1:] if column is not None or any(c.tag == "th" for c in rows[0]) else rows
        column = column or 0
        values: list[str] = []
        for row in body:
            cells = [value_text(c) for c in row if _is_element(c)]
            if len(cells) > 1 and column == 0 and cells[0].isdigit():
                column = 1  # a 序号 column first
            if column < len(cells) and cells[column]:
                values.append(cells[column])
        return values
    return split_list(value_text(el))


def _in_li(li: Any, top: Any) -> bool:
    """Whether ``li`` sits inside another list item under ``top`` (its text is the outer one's)."""
    for ancestor in li.iterancestors():
        if ancestor is top:
            return False
        if ancestor.tag == "li":
            return True
    return False


def _list_item(li: Any) -> str:
    table = next(li.iter("table"), None)
    return material_from_table(table) if table is not None else value_text(li)


def split_list(text: str) -> list[str]:
    return [p.strip(" 、,，。") for p in _SPLIT_LIST.split(text) if p and p.strip(" 、,，。")]


def _value_of(el: Any, name: str) -> Any:
    return _list_values(el) if name in LIST_ELEMENTS else value_text(el)


def _next_content(node: Any) -> Any:
    """The next sibling a person reads as content: elements only, controls (更多, 展开) skipped."""
    nxt = node.getnext()
    while nxt is not None and (not _is_element(nxt) or is_control(nxt)):
        nxt = nxt.getnext()
    return nxt


class HtmlGuideReader:
    """Finds label/value pairs in one HTML document."""

    def __init__(self, elements: GuideElements) -> None:
        self.elements = elements
        self._memo: dict[Any, str | None] = {}

    def _label(self, el: Any) -> str | None:
        if el in self._memo:
            return self._memo[el]
        name = None
        if el.tag not in _SKIP_TAGS and len(el) <= 3:  # a label has at most a few inline children
            raw = label_text(el)  # trimmed first (labels come padded), hints (更多) left out
            if raw and len(raw) <= 60:
                name = self.elements.element_for(raw)
        self._memo[el] = name
        return name

    def read(self, root: Any) -> dict[str, Any]:
        found: dict[str, Any] = {}
        self._memo = {}

        def keep(name: str, value: Any) -> None:
            if not found.get(name):
                found[name] = value

        for el in root.iter(lxml.etree.Element):
            name = self._label(el)
            if name is not None:
                # a label wrapped in <b>/<span>: climb while the parent says nothing more
                node = el
                while (
                    _next_content(node) is None
                    and not (node.tail or "").strip()
                    and node.getparent() is not None
                    and self._label(node.getparent()) == name
                ):
                    node = node.getparent()
                if (node.tail or "").strip():
                    keep(name, _inline_value(name, fold(node.tail)))
                    continue
                nxt = _next_content(node)
                if nxt is None or self._label(nxt) is not None:
                    continue  # a header cell next to another header: see column_pairs
                keep(name, _value_of(nxt, name))
                continue
            if el.tag in _SKIP_TAGS or len(el) > 6:
                continue
            if all(c.tag in _INLINE for c in el):
                raw = el.text_content()
                if ("：" in raw or ":" in raw) and len(raw) <= 400:
                    pair = self.elements.split_label(fold(raw))
                    if pair is not None:
                        keep(pair[0], _inline_value(pair[0], pair[1]))
        for name, value in self.column_pairs(root):
            keep(name, value)
        if not found.get("是否收费"):
            badge = fee_badge(root)
            if badge is not None:
                found["是否收费"] = badge
            elif fee_stated(found.get("收费标准")):
                # no label and no badge, but a fee standard under a 许可收费 / 收费标准 heading:
                # a person reads that the item is charged
                found["是否收费"] = "是"
        self._memo = {}
        return found

    def column_pairs(self, root: Any) -> Iterator[tuple[str, Any]]:
        """A table of one header row of labels over one row of values: labels by column.

        Exactly one value row: a catalogue (labels over many rows of items) stays a listing.
        """
        for table in root.iter("table"):
            rows = [r for r in table.iter("tr") if next(r.iterancestors("table"), None) is table]
            if len(rows) != 2:
                continue
            heads = [c for c in rows[0] if _is_element(c)]
            cells = [c for c in rows[1] if _is_element(c)]
            names = [self._label(c) for c in heads]
            if len(heads) != len(cells) or None in names or any(self._label(c) for c in cells):
                continue
            for name, cell in zip(names, cells, strict=True):
                if name is not None:
                    yield name, _value_of(cell, name)


_INLINE = frozenset({"br", "b", "strong", "span", "em", "i", "font"})


def _inline_value(name: str, text: str) -> Any:
    return split_list(text) if name in LIST_ELEMENTS else text


def parse_html(text: str) -> Any:
    """An lxml tree of decoded HTML, tolerant of malformed government pages."""
    try:
        return lxml.html.document_fromstring(text)
    except ValueError:  # a str with an XML encoding declaration
        return lxml.html.document_fromstring(text.encode("utf-8"), parser=_UTF8_PARSER)
    except lxml.etree.ParserError:  # empty document
        return lxml.html.document_fromstring("<html><body></body></html>")


_UTF8_PARSER = lxml.html.HTMLParser(encoding="utf-8")


def guide_from_html(root: Any, elements: GuideElements, link_text: str = "") -> Guide | None:
    """The guide on a page, or None when the labels found are not enough for a guide (:func:`is_guide`).

    A guide that shows no labelled 事项名称 is named as a person names it: by its first heading
    (``h1``/``h2``), else by the text of the link or control that led to it when the page shows
    that text as a block of its own (the item's title), else by the document title.
    """
    found = HtmlGuideReader(elements).read(root)
    if not is_guide(found):
        return None
    guide = Guide(found)
    if not guide.name:
        headings = root.xpath("(//h1|//h2)[1]")
        title = (
            _text(headings[0])
            if headings
            else _shown_whole(root, link_text) or fold(root.findtext(".//title") or "")
        )
        if title:
            guide.fields["事项名称"] = title
    return guide


def _shown_whole(root: Any, text: str) -> str | None:
    """``text`` when some element of the page's body shows exactly it (a title block)."""
    want = fold(text)
    if not 2 <= len(want) <= 120:
        return None
    body = root.find("body")
    for el in (body if body is not None else root).iter(lxml.etree.Element):
        if el.tag not in ("a", "script", "style", "title") and fold(el.text_content() or "") == want:
            return want
    return None


def guides_from_json(data: Any, elements: GuideElements) -> Iterator[Guide]:
    """Every object in a JSON document that carries enough guide elements (searched recursively)."""
    if isinstance(data, dict):
        mapped: dict[str, Any] = {}
        for key, value in data.items():
            name = elements.element_for(str(key))
            if name is None or isinstance(value, dict):
                continue
            mapped[name] = _json_value(name, _with_unit(data, str(key), value))
        if is_guide(mapped):
            yield Guide(mapped)
            return
        for value in data.values():
            yield from guides_from_json(value, elements)
    elif isinstance(data, list):
        for value in data:
            yield from guides_from_json(value, elements)


_UNIT_WORD = re.compile(r"^(?:个工作日|工作日|自然日|日|天|个月|月|年|小时|元)$")
_KEY_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Za-z][a-z]*|[^A-Za-z_\-]+")


def _with_unit(data: dict[Any, Any], key: str, value: Any) -> Any:
    """A bare number joined to its unit from a sibling key: ``PROMISE_DAY: 5`` with
    ``PROMISE_TYPE_TEXT: 个工作日`` is ``5个工作日`` (APIs keep a number and its unit apart).

    A sibling is one whose key starts with the same word (PROMISE_…, promise…) and whose whole
    value is a unit; without one the number stays bare and is compared as a number alone.
    """
    if isinstance(value, bool) or not re.fullmatch(r"\d+(?:\.\d+)?", str(value).strip()):
        return value
    head = _first_token(key)
    for other, unit in data.items():
        same_word = str(other) != key and _first_token(str(other)) == head
        if same_word and isinstance(unit, str) and _UNIT_WORD.match(unit.strip()):
            return f"{str(value).strip()}{unit.strip()}"
    return value


def _first_token(key: str) -> str:
    m = _KEY_TOKEN.search(key)
    return m.group(0).lower() if m else key.lower()


def _json_value(name: str, value: Any) -> Any:
    if name in LIST_ELEMENTS:
        if isinstance(value, list):
            out = []
            for v in value:
                if isinstance(v, dict):
                    key = next((k for k in v if str(k).lower() in _MATERIAL_KEYS), None)
                    out.append(fold(str(v[key])) if key else fold(str(next(iter(v.values()), ""))))
                else:
                    out.append(fold(str(v)))
            return [v for v in out if v]
        return split_list(str(value)) if value else []
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return fold(str(value))


def page_links(root: Any, base_url: str, *, keep_hash_routes: bool) -> list[Link]:
    """Links a person can click: ``a[href]`` and ``onclick`` navigations, absolute, deduplicated.

    ``onclick="go('x')"`` is resolved through the page's own ``function go(g){location.href=…+g}``.
    """
    navigators = script_navigators(root)
    seen: set[str] = set()
    out: list[Link] = []
    for el in root.iter():
        if not _is_element(el) or (el.tag != "a" and not el.get("onclick")):
            continue
        raw = el.get("href") if el.tag == "a" else None
        if not raw or (raw.strip().lower().startswith(("javascript:", "#")) and not _hash_route(raw)):
            raw = onclick_target(el.get("onclick") or "", navigators) or (
                raw if raw and _hash_route(raw) else None
            )
        if not raw:
            continue
        url = absolute_url(base_url, raw.strip(), keep_hash_routes=keep_hash_routes)
        if url is None or url in seen:
            continue
        seen.add(url)
        out.append(Link(url, fold("".join(t for t in el.itertext() if t)[:200])[:100]))
    return out


_FUNCTION = re.compile(r"function\s+([A-Za-z_$][\w$]*)\s*\(([^)]*)\)\s*\{(.*?)\}", re.S)
_NAVIGATE = re.compile(
    r"(?:location(?:\.href)?\s*=|window\.open\(|location\.(?:assign|replace)\()\s*([^;)}]+)"
)
_CALL = re.compile(r"([A-Za-z_$][\w$]*)\s*\(([^)]*)\)")
_LITERAL = re.compile(r"""^\s*(['"])(.*)\1\s*$""", re.S)


def script_navigators(root: Any) -> dict[str, tuple[list[str], list[str]]]:
    """Inline functions that navigate: name → (parameters, expression parts joined by ``+``)."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for script in root.iter("script"):
        code = script.text or ""
        for name, params, body in _FUNCTION.findall(code):
            nav = _NAVIGATE.search(body)
            if nav:
                out[name] = ([p.strip() for p in params.split(",") if p.strip()], nav.group(1).split("+"))
    return out


def onclick_target(onclick: str, navigators: dict[str, tuple[list[str], list[str]]]) -> str | None:
    """The URL an ``onclick`` handler navigates to, when it can be read without running script."""
    direct = _ONCLICK_URL.search(onclick)
    if direct:
        return direct.group(1)
    for name, args in _CALL.findall(onclick):
        if name not in navigators:
            continue
        params, parts = navigators[name]
        values = [_literal(a) for a in args.split(",")] if args.strip() else []
        bound = dict(zip(params, values, strict=False))
        url = ""
        for part in parts:
            literal = _literal(part)
            if literal is not None:
                url += literal
            elif part.strip() in bound and bound[part.strip()] is not None:
                url += str(bound[part.strip()])
            else:
                return None
        return url or None
    return None


def _literal(text: str) -> str | None:
    match = _LITERAL.match(text)
    return match.group(2) if match else None


def frame_sources(root: Any, base_url: str) -> list[str]:
    """``iframe``/``frame`` documents: part of the page a person sees, reached without a click."""
    out: list[str] = []
    for el in root.iter("iframe", "frame"):
        src = (el.get("src") or "").strip()
        url = absolute_url(base_url, src, keep_hash_routes=True) if src else None
        if url is not None and url not in out:
            out.append(url)
    return out


def _hash_route(raw: str) -> bool:
    frag = raw.strip().partition("#")[2]
    return frag.startswith(("/", "!/"))


def absolute_url(base_url: str, raw: str, *, keep_hash_routes: bool) -> str | None:
    """Resolve ``raw`` against the page; drop in-page anchors; None for mailto/tel/javascript."""
    if raw.lower().startswith(("mailto:", "tel:", "javascript:", "data:")):
        return None
    url = urljoin(base_url, raw)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    fragment = parts.fragment if keep_hash_routes and _hash_route("#" + parts.fragment) else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, fragment))


def visible_text_length(root: Any) -> int:
    body = root.find(".//body")
    if body is None:
        return 0
    return sum(len(t.strip()) for t in body.itertext() if t) - sum(
        len("".join(s.itertext())) for s in body.iter("script", "style", "noscript")
    )


__all__ = [
    "Guide",
    "HtmlGuideReader",
    "Link",
    "absolute_url",
    "frame_sources",
    "guide_from_html",
    "guides_from_json",
    "page_links",
    "parse_html",
    "split_list",
    "visible_text_length",
]
