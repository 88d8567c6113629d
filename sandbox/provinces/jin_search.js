/* 晋北省 search: POST JSON with a signature, as 山西-style portals do.
 * sign = hex(SHA-256( sorted "k=v" pairs joined by "&" + "&timestamp=" + ts + "&key=" + APP_KEY )) */
(function () {
  var APP_KEY = "__APP_KEY__";
  function hex(buf) {
    return Array.prototype.map.call(new Uint8Array(buf), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function sign(params, ts) {
    var keys = Object.keys(params).sort();
    var text = keys.map(function (k) { return k + "=" + params[k]; }).join("&") + "&timestamp=" + ts + "&key=" + APP_KEY;
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(hex);
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function run(keyword, pageNo) {
    var params = {keyword: keyword, pageNo: String(pageNo), pageSize: "10"};
    var ts = String(Date.now());
    var out = document.getElementById("jb-result");
    out.innerHTML = '<li class="jb-loading">正在检索…</li>';
    sign(params, ts).then(function (s) {
      var body = Object.assign({}, params, {timestamp: ts, sign: s});
      return fetch("/bsdt/api/search", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    }).then(function (r) { return r.json(); }).then(function (r) {
      var d = r.result || {rows: [], total: 0};
      document.getElementById("jb-total").textContent = "共" + d.total + "项";
      out.innerHTML = d.rows.length ? d.rows.map(function (x) {
        return '<li class="jb-hit"><a href="' + esc(x.url) + '">' + esc(x.sxmc) + '</a><span class="jb-dept">' + esc(x.ssbm) + "</span></li>";
      }).join("") : '<li class="jb-none">没有找到符合条件的事项</li>';
      var more = document.getElementById("jb-next");
      more.style.display = d.total > pageNo * 10 ? "" : "none";
      more.onclick = function () { run(keyword, pageNo + 1); };
    });
  }
  var form = document.getElementById("jb-form");
  form.onsubmit = function (e) { e.preventDefault(); run(document.getElementById("jb-kw").value.trim(), 1); };
  var initial = new URLSearchParams(location.search).get("kw");
  if (initial) { document.getElementById("jb-kw").value = initial; run(initial, 1); }
})();
