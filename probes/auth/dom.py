"""In-page JavaScript of the auth_https observer.

What a person cannot see but the page *asks for*: subresources over http (from the DOM, since
Chromium blocks or upgrades them before a request exists), and where the password goes (the
form's resolved action, and every XHR/fetch/form submission the page makes after the click,
recorded in the page before the browser's own mixed-content rules can drop them).
"""

from __future__ import annotations

# Words of a link or button a person clicks to log in, and of the tab that shows the password form.
LOGIN_WORDS = (
    r"^(个人|法人|用户|统一身份认证|统一)?(登录|登入|登陆)$|^登录\s*/\s*注册$|^(login|sign\s*in|log\s*in)$"
)
LOGIN_WORDS_LOOSE = r"登录|登入|登陆|统一身份认证|login|sign\s*in"
NOT_LOGIN_WORDS = r"注册|退出|注销|忘记|找回|logout|sign\s*out|register"
PASSWORD_TAB_WORDS = r"(账号|帐号|账户|用户名|密码)\s*(密码)?\s*登录|密码登录"

# Resolved URLs of subresources the document asks for (href of <a> and form actions are not subresources).
INSECURE_SUBRESOURCES = r"""
() => {
  const out = [];
  const add = (u) => { if (typeof u === 'string' && /^http:\/\//i.test(u) && !out.includes(u)) out.push(u); };
  document.querySelectorAll('script[src], img[src], iframe[src], frame[src], audio[src], video[src], '
    + 'source[src], track[src], embed[src], input[type=image][src]').forEach((el) => add(el.src));
  document.querySelectorAll('link[href]').forEach((el) => {
    const rel = (el.getAttribute('rel') || '').toLowerCase();
    if (/stylesheet|icon|preload|modulepreload|manifest/.test(rel)) add(el.href);
  });
  document.querySelectorAll('object[data]').forEach((el) => add(el.data));
  document.querySelectorAll('img[srcset], source[srcset]').forEach((el) =>
    el.getAttribute('srcset').split(',').forEach((part) => {
      const u = part.trim().split(/\s+/)[0];
      if (u) add(new URL(u, document.baseURI).href);
    }));
  return out;
}
"""

# Record every way the page could send the password: form submit, XHR, fetch, sendBeacon.
RECORD_SUBMISSIONS = r"""
(secret) => {
  if (window.__zwauditSent) return;
  const sent = window.__zwauditSent = [];
  const has = (body) => {
    if (body == null) return false;
    try {
      if (typeof body === 'string') return body.includes(secret) || body.includes(encodeURIComponent(secret));
      if (body instanceof URLSearchParams) return body.toString().includes(encodeURIComponent(secret));
      if (body instanceof FormData) { for (const [, v] of body.entries()) if (v === secret) return true; return false; }
      return JSON.stringify(body).includes(secret);
    } catch (e) { return false; }
  };
  const abs = (u) => { try { return new URL(String(u), document.baseURI).href; } catch (e) { return String(u); } };
  // bubble phase on window, so a page handler that cancels the native submit (and sends by script) runs first
  window.addEventListener('submit', (ev) => {
    if (ev.defaultPrevented) return;
    const f = ev.target;
    const carries = Array.from(f.elements || []).some((el) => el.value === secret);
    sent.push({via: 'form', method: (f.getAttribute('method') || 'GET').toUpperCase(), url: f.action, carries});
  }, false);
  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.__zw = {method: String(method).toUpperCase(), url: abs(url)};
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (body) {
    if (this.__zw) sent.push({via: 'xhr', ...this.__zw, carries: has(body) || this.__zw.url.includes(secret)});
    return send.call(this, body);
  };
  const fetch0 = window.fetch;
  window.fetch = function (input, init) {
    const url = abs(typeof input === 'string' || input instanceof URL ? input : input.url);
    const method = ((init && init.method) || (input && input.method) || 'GET').toUpperCase();
    sent.push({via: 'fetch', method, url, carries: has(init && init.body) || url.includes(secret)});
    return fetch0.apply(this, arguments);
  };
  if (navigator.sendBeacon) {
    const beacon = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = (url, data) => {
      sent.push({via: 'beacon', method: 'POST', url: abs(url), carries: has(data)});
      return beacon(url, data);
    };
  }
}
"""

# The password input's form: resolved action and method (a form without action posts to the page).
FORM_FACTS = r"""
(el) => {
  const f = el.form;
  if (!f) return {action: null, method: null};
  return {action: f.action || document.location.href, method: (f.getAttribute('method') || 'GET').toLowerCase()};
}
"""

# Fill what a person fills before clicking 登录: the visible, empty text inputs of the password's form.
FILL_OTHERS = r"""
(el) => {
  const scope = el.form || el.closest('div, section, body');
  const visible = (x) => { const r = x.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  let n = 0;
  for (const x of scope.querySelectorAll('input')) {
    const type = (x.getAttribute('type') || 'text').toLowerCase();
    if (x === el || !visible(x) || x.disabled || x.readOnly) continue;
    if (['text', 'tel', 'email', 'number', ''].includes(type) && !x.value) {
      x.value = type === 'email' ? 'probe@example.invalid' : (type === 'tel' || type === 'number' ? '13000000000' : 'zwauditprobe');
      x.dispatchEvent(new Event('input', {bubbles: true}));
      x.dispatchEvent(new Event('change', {bubbles: true}));
      n++;
    } else if (type === 'checkbox' && !x.checked) {
      x.click();
    }
  }
  return n;
}
"""
