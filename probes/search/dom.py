"""In-page JavaScript of the search observer: what a person looks at, computed in the DOM.

Kept as plain functions evaluated by Playwright so each heuristic stays in one readable place:
the search box (a visible text input with search words in its placeholder, label or nearby
button, or a prompt to type beside an icon-only button), and the result list (repeated sibling
blocks holding links or other things that look clickable, outside the header/nav/footer chrome,
that were not on the page before the search).

"Looks clickable" is the pointer cursor a person sees on hover: component-framework portals bind
clicks with script listeners, so their result cards and magnifier buttons carry no ``href`` and no
``onclick`` attribute, only the cursor.
"""

from __future__ import annotations

from zwaudit.clickables import POINTER_STARTS_JS, VISIBLE_JS

# Words a person recognises as "search" on a Chinese portal (placeholders, labels, buttons).
SEARCH_WORDS = r"搜索|检索|查询|搜一搜|请输入关键|关键字|关键词|search|keyword"
# A placeholder asking the person to type something (请输入您要办理的事项), which is a search box
# when a button stands beside it; login prompts are not.
PROMPT_WORDS = r"请输入|输入.{0,6}(事项|服务|名称|内容|关键)"
LOGIN_WORDS = r"用户名|密码|手机|验证码|账号|帐号|身份证|证件|邮箱|姓名"
# Texts of a page saying the search found nothing.
EMPTY_WORDS = (
    r"(没有|未|暂无|无)(找到|搜索到|检索到|查询到|查到|相关|符合|匹配)[^。！\n]{0,12}"
    r"|(共|找到|搜索到|检索到|查询到)\s*0\s*(条|个|项|项结果|个结果)"
    r"|暂无(数据|结果|记录|相关)|抱歉[^。\n]{0,10}(没有|未)|no\s+results?"
)

# Marks the elements where a pointer cursor starts (``POINTER_STARTS_JS``) with ``data-zw-click``,
# so that the list readers below treat them like links; run before reading lists.
CLICKABLE = "a[href], [onclick], [role=link], [data-zw-click]"
MARK_CLICKABLE = (
    f"\n  const clickable = '{CLICKABLE}';"
    + POINTER_STARTS_JS
    + r"""
  for (const el of document.querySelectorAll('body *:not([data-zw-click])')) {
    if (pointerStarts(el)) el.setAttribute('data-zw-click', '');
  }
"""
)

SCORE_INPUTS = (
    r"""
(els, args) => {
  const words = new RegExp(args.words, 'i');
  const prompt = new RegExp(args.prompt);
  const login = new RegExp(args.login);
"""
    + VISIBLE_JS
    + r"""  const textOf = (el) => [el.innerText, el.value, el.title, el.getAttribute('aria-label'), el.getAttribute('alt')]
    .filter(Boolean).join(' ');
  return els.map((el) => {
    const type = (el.getAttribute('type') || 'text').toLowerCase();
    if (!['text', 'search', ''].includes(type) || el.disabled || el.readOnly || !visible(el)) return {score: -1};
    let score = 0;
    const why = [];
    if (type === 'search' || el.getAttribute('role') === 'searchbox') { score += 5; why.push('role'); }
    const own = [el.placeholder, el.getAttribute('aria-label'), el.title].filter(Boolean).join(' ');
    if (words.test(own)) { score += 4; why.push('placeholder'); }
    else if (prompt.test(own) && !login.test(own)) { score += 2; why.push('prompt'); }
    const labels = Array.from(el.labels || []).map((l) => l.innerText).join(' ');
    if (words.test(labels)) { score += 3; why.push('label'); }
    if (words.test([el.name, el.id].join(' '))) { score += 1; why.push('name'); }
    const form = el.form;
    if (form && form.querySelector('input[type=password]')) return {score: -1};
    // a nearby button or clickable with search words (or a form whose only input this is)
    let button = null;
    let scope = el.parentElement;
    for (let depth = 0; scope && depth < 4 && !button; depth++, scope = scope.parentElement) {
      const clickables = scope.querySelectorAll(
        'button, input[type=submit], input[type=button], input[type=image], a, [role=button], [onclick], span, i, img, div');
      for (const c of clickables) {
        if (c === el || c.contains(el) || !visible(c)) continue;
        const t = textOf(c).trim();
        if (t.length <= 8 && words.test(t)) { button = c; break; }
      }
      if (!button && depth === 0) {
        const s = scope.querySelector('button, input[type=submit], input[type=image], [role=button]');
        if (s && s !== el && visible(s)) button = s;
      }
    }
    if (!button) {
      // an icon-only button: a small thing with a pointer cursor just right of the box, level
      // with it (the magnifier a person would click), with little or no text
      const box = el.getBoundingClientRect();
      let near = el.parentElement;
      for (let depth = 0; near && depth < 2 && !button; depth++, near = near.parentElement) {
        for (const c of near.querySelectorAll('*')) {
          if (c === el || c.contains(el) || !visible(c) || getComputedStyle(c).cursor !== 'pointer') continue;
          const r = c.getBoundingClientRect();
          const beside = r.left >= box.right - 4 && r.left - box.right <= 60 && r.top < box.bottom && r.bottom > box.top;
          if (beside && r.width <= 120 && r.height <= 80 && textOf(c).trim().length <= 8) { button = c; break; }
        }
      }
    }
    if (button) { score += 3; why.push('button'); }
    if (form && (form.getAttribute('role') === 'search' || words.test(form.action || ''))) { score += 2; why.push('form'); }
    if (el.closest('[role=search]')) { score += 3; why.push('landmark'); }
    let token = null;
    if (button) {
      token = 'b' + Math.random().toString(36).slice(2);
      button.setAttribute('data-zwaudit-submit', token);
    }
    const r = el.getBoundingClientRect();
    return {score, why, token, top: r.top + window.scrollY, width: r.width};
  });
}
"""
)

# Texts and link groups on the page now, so the ones that appear after a search stand out.
SNAPSHOT = (
    r"""
() => {
"""
    + MARK_CLICKABLE
    + r"""
  const norm = (c) => (c.innerText || '').replace(/\s+/g, ' ').trim().slice(0, 200);
  const items = new Set();
  const lists = new Set();
  for (const el of document.querySelectorAll('body, body *')) {
    if (el.children.length >= 1 && el.querySelector(clickable)) {
      const texts = Array.from(el.children).map(norm);
      texts.forEach((t) => items.add(t));
      lists.add(texts.join('|'));
    }
  }
  return {items: Array.from(items), lists: Array.from(lists), text: (document.body && document.body.innerText) || ''};
}
"""
)

EXTRACT = (
    r"""
(args) => {
"""
    + MARK_CLICKABLE
    + r"""
  const baselineItems = new Set(args.baseline_items || []);
  const baselineLists = new Set(args.baseline_lists || []);
  const baselineText = args.baseline_text || '';
  const empty = new RegExp(args.empty, 'i');
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const CHROME = 'header, nav, footer, aside, [role=navigation], [role=banner], [role=contentinfo], '
    + '[role=menu], [role=menubar], [role=tablist], [role=search], [role=complementary]';
  const PAGER = /^(\d+|上一页|下一页|首页|尾页|末页|前一页|后一页|跳转|确定|GO|>|<|»|«|…|\.\.\.)$/i;
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return false;
    const s = getComputedStyle(el);
    return s.visibility !== 'hidden' && s.display !== 'none' && parseFloat(s.opacity || '1') > 0;
  };
  const linkish = (el) => Array.from(el.querySelectorAll(clickable))
    .concat(el.matches(clickable) ? [el] : [])
    .filter((a) => visible(a) && norm(a.innerText).length >= 2);
  const weight = (el) => {
    const s = getComputedStyle(el);
    const bold = parseInt(s.fontWeight, 10) >= 600 ? 1.15 : 1;
    const heading = /^H[1-6]$/.test(el.tagName) ? 1.1 : 1;
    return parseFloat(s.fontSize) * bold * heading;
  };
  const titleOf = (item) => {
    const cands = linkish(item).concat(Array.from(item.querySelectorAll('h1,h2,h3,h4,h5,h6,strong,b')))
      .filter((c) => visible(c) && norm(c.innerText).length >= 2);
    if (!cands.length) return null;
    let best = cands[0];
    for (const c of cands) if (weight(c) > weight(best) + 0.01) best = c;
    const line = norm((best.innerText || '').split('\n').find((l) => l.trim()) || '');
    const link = best.closest('a[href]') || best.querySelector('a[href]') || linkish(item)[0] || null;
    return {title: line, url: link && link.href ? link.href : null};
  };
  let bestGroup = null;
  if (args.selector) {
    const results = Array.from(document.querySelectorAll(args.selector)).filter(visible)
      .map((el) => titleOf(el) || {title: norm((el.innerText || '').split('\n')[0]), url: null})
      .filter((r) => r.title);
    bestGroup = {score: 0, results, container: args.selector, count: results.length};
  }
  for (const parent of (args.selector ? [] : document.querySelectorAll('body, body *'))) {
    if (parent.closest(CHROME) || !visible(parent) || parent.children.length < 1) continue;
    const byTag = new Map();
    for (const child of parent.children) {
      if (!visible(child) || child.matches(CHROME)) continue;
      // a result block holds a title link and a few actions, never the search box or a whole page
      const links = linkish(child).length;
      if (!links || links > 8 || child.querySelector('input:not([type=hidden]), textarea')) continue;
      const key = child.tagName;
      if (!byTag.has(key)) byTag.set(key, []);
      byTag.get(key).push(child);
    }
    for (const blocks of byTag.values()) {
      // blocks seen unchanged before the search and not side by side with the others are the
      // page's furniture (a layout table's header and footer around a changed middle), not results
      const seen = (c) => baselineItems.has(norm(c.innerText).slice(0, 200));
      const at = blocks.map((c) => Array.from(parent.children).indexOf(c));
      const together = Math.max(...at) - Math.min(...at) + 1 === blocks.length;
      const items = together || blocks.every(seen) ? blocks : blocks.filter((c) => !seen(c));
      const results = items.map(titleOf).filter((t) => t && !PAGER.test(t.title));
      if (!results.length) continue;
      // the list that changed after the search. A list seen whole before (navigation, footer) is
      // chrome; a changed list counts at least half even when some results were also on the home
      // page (its 热门服务 are exactly what people search for), fully when its blocks are all new.
      const signature = Array.from(parent.children).map((c) => norm(c.innerText).slice(0, 200)).join('|');
      if (baselineLists.has(signature)) continue;
      const newItems = items.filter((c) => !baselineItems.has(norm(c.innerText).slice(0, 200))).length / items.length;
      // all blocks seen before: only a list whose blocks stand side by side (not the page's top and
      // bottom layout tables around a changed middle) can be results that were also 热门服务
      const siblings = Array.from(parent.children);
      const positions = items.map((c) => siblings.indexOf(c));
      const contiguous = Math.max(...positions) - Math.min(...positions) + 1 === items.length;
      if (newItems === 0 && (!contiguous || items.length < 2)) continue;
      const fresh = Math.max(newItems, 0.5);
      // result blocks look alike: share of items with the most common shape (tags of their children)
      const shapes = new Map();
      for (const c of items) {
        const shape = Array.from(c.children).map((x) => x.tagName).join(',');
        shapes.set(shape, (shapes.get(shape) || 0) + 1);
      }
      const alike = Math.max(...shapes.values()) / items.length;
      const titles = results.map((r) => r.title);
      const distinct = new Set(titles).size;
      const avg = titles.reduce((n, t) => n + t.length, 0) / titles.length;
      if (avg < 4) continue;
      const width = parent.getBoundingClientRect().width;
      let score = distinct * Math.min(avg, 30) * Math.min(width / 200, 1) * fresh * alike;
      if (parent.closest('main, [role=main]')) score *= 1.3;
      if (results.length < 2) score *= 0.3;
      if (!bestGroup || score > bestGroup.score) {
        bestGroup = {score, results, container: parent.tagName, count: results.length};
      }
    }
  }
  let emptyMessage = null;
  const lines = (document.body.innerText || '').split('\n').map(norm).filter(Boolean);
  for (const line of lines) {
    const m = line.match(empty);
    if (m && line.length <= 80 && !baselineText.includes(line)) { emptyMessage = line; break; }
  }
  // a lone fresh block beside a "no results" text is page furniture, not a result
  if (emptyMessage && bestGroup && !args.selector && bestGroup.count < 2) bestGroup = null;
  return {group: bestGroup, empty: emptyMessage, url: location.href};
}
"""
)
