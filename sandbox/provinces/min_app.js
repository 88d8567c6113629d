/* 闽中省网上办事大厅 front end: history-mode routing (pushState) over the paginated /api/v2 REST API. */
(function () {
  var SECTIONS = [
    ["基本信息", [["task_name", "事项名称"], ["task_code", "实施编码"], ["dept_name", "实施主体"],
      ["is_fee", "是否收费"], ["update_time", "更新时间"]]],
    ["受理条件", [["accept_condition", "受理条件"]]],
    ["申请材料", [["materials", "申请材料"]]],
    ["办理流程", [["handle_flow", "办理流程"]]],
    ["办理时限", [["anticipate_day", "法定办结时限"], ["promise_day", "承诺办结时限"]]],
    ["收费标准", [["fee_stand", "收费标准"]]],
    ["设定依据", [["by_law", "设定依据"]]],
    ["办理地点和时间", [["transact_addr", "办理地点"], ["transact_time", "办理时间"]]],
    ["咨询与监督", [["link_way", "咨询电话"], ["supervise_way", "监督电话"]]]
  ];
  var PAGE_SIZE = 10;
  var view = document.getElementById("view");
  var timer = null;

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function api(path) {
    return fetch("/api/v2/" + path, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.json().then(function (j) { j.status = r.status; return j; }); });
  }
  function go(url, replace) {
    if (replace) { history.replaceState(null, "", url); } else { history.pushState(null, "", url); }
    render();
  }
  function list(records) {
    return '<ul class="mz-list">' + records.map(function (t) {
      return '<li class="mz-item"><a data-link href="/service/guide/' + t.id + '">' + esc(t.itemName) +
        '</a><span class="mz-dept">' + esc(t.deptName) + "</span></li>";
    }).join("") + "</ul>";
  }
  function searchBar() {
    var header = document.querySelector(".mz-top");
    var box = document.createElement("div");
    box.className = "mz-search";
    box.innerHTML = '<input id="mz-q" type="text" aria-label="搜索" autocomplete="off">' +
      '<button id="mz-go" type="button" class="mz-icon" aria-label="搜索">' +
      '<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true"><circle cx="7" cy="7" r="5" ' +
      'stroke="currentColor" fill="none" stroke-width="2"/><path d="M11 11l4 4" stroke="currentColor" stroke-width="2"/></svg></button>';
    header.appendChild(box);
    var input = document.getElementById("mz-q");
    function submit(replace) {
      var kw = input.value.trim();
      if (kw) { go("/search?keyword=" + encodeURIComponent(kw), replace); }
    }
    input.addEventListener("input", function () {  // results arrive while typing
      clearTimeout(timer);
      timer = setTimeout(function () { submit(location.pathname === "/search"); }, 300);
    });
    input.addEventListener("keydown", function (e) { if (e.key === "Enter") { clearTimeout(timer); submit(false); } });
    document.getElementById("mz-go").addEventListener("click", function () { clearTimeout(timer); submit(false); });
  }
  function pager(base, page, total) {
    var pages = Math.ceil(total / PAGE_SIZE);
    if (pages <= 1) return "";
    var out = '<div class="mz-pager">';
    for (var p = 1; p <= pages; p++) {
      out += p === page ? '<span class="mz-cur">' + p + "</span>" : '<a data-link href="' + base + "?page=" + p + '">' + p + "</a>";
    }
    return out + "</div>";
  }
  var routes = [
    [/^\/$/, function () {
      Promise.all([api("hot?page=1&size=" + PAGE_SIZE), api("depts?page=1&size=50")]).then(function (r) {
        view.innerHTML = '<section class="mz-hot"><h2>热门服务</h2>' + list(r[0].data.records) + "</section>" +
          '<section class="mz-depts"><h2>部门服务</h2><div class="mz-grid">' + r[1].data.records.map(function (d) {
            return '<a data-link class="mz-card" href="/service/dept/' + d.id + '">' + esc(d.name) + "</a>";
          }).join("") + '</div></section><p><a data-link href="/theme">更多主题服务</a></p>';
      });
    }],
    [/^\/service\/dept\/(D\d+)$/, function (id) {
      var page = parseInt(new URLSearchParams(location.search).get("page") || "1", 10);
      Promise.all([api("items?deptId=" + id + "&page=" + page + "&size=" + PAGE_SIZE), api("depts?page=1&size=50")])
        .then(function (r) {
          var dept = r[1].data.records.filter(function (d) { return d.id === id; })[0];
          view.innerHTML = "<h2>" + esc(dept ? dept.name : "") + "</h2>" + list(r[0].data.records) +
            pager("/service/dept/" + id, page, r[0].data.total);
        });
    }],
    [/^\/service\/guide\/(g[0-9a-f]+)$/, function (id) {
      api("items/" + id).then(function (r) {
        if (r.code !== 0) { view.innerHTML = '<p class="mz-empty">事项不存在</p>'; return; }
        var g = r.data, html = "";
        SECTIONS.forEach(function (s, n) {
          var rows = "";
          s[1].forEach(function (f) {
            var v = g[f[0]];
            if (v === undefined || v === null || v === "") return;
            if (f[0] === "materials") {
              v = "<ol>" + v.map(function (m) { return "<li>" + esc(m.name) + "</li>"; }).join("") + "</ol>";
            } else { v = esc(v); }
            rows += '<div class="mz-kv"><span class="mz-k">' + f[1] + '</span><div class="mz-v">' + v + "</div></div>";
          });
          if (!rows) return;
          var open = n === 0;
          html += '<div class="mz-acc-item"><button type="button" class="mz-acc-head" id="acc-h' + n +
            '" aria-expanded="' + open + '" aria-controls="acc-p' + n + '">' + s[0] + "</button>" +
            '<div class="mz-acc-body" id="acc-p' + n + '" role="region" aria-labelledby="acc-h' + n + '"' +
            (open ? "" : " hidden") + ">" + rows + "</div></div>";
        });
        var apply = g.apply_url ? '<a class="mz-apply" href="' + esc(g.apply_url) + '">在线办理</a>' : "";
        view.innerHTML = '<h2 class="mz-title">' + esc(g.task_name) + "</h2>" + apply + '<div class="mz-acc">' + html + "</div>";
        Array.prototype.forEach.call(view.querySelectorAll(".mz-acc-head"), function (b) {
          b.addEventListener("click", function () {
            var body = document.getElementById(b.getAttribute("aria-controls"));
            var expanded = b.getAttribute("aria-expanded") === "true";
            b.setAttribute("aria-expanded", String(!expanded));
            body.hidden = expanded;
          });
        });
      });
    }],
    [/^\/search$/, function () {
      var kw = new URLSearchParams(location.search).get("keyword") || "";
      var input = document.getElementById("mz-q");
      if (input && document.activeElement !== input) input.value = kw;
      api("search?keyword=" + encodeURIComponent(kw) + "&page=1&size=" + PAGE_SIZE).then(function (r) {
        view.innerHTML = '<p class="mz-count">为您找到相关结果约' + r.data.total + "个</p>" +
          (r.data.records.length ? list(r.data.records) : '<p class="mz-empty">暂无数据</p>');
      });
    }],
    [/^\/theme(?:\/([\d\/]+))?$/, function (path) {
      path = path || "";
      api("themes?path=" + encodeURIComponent(path)).then(function (r) {
        var d = r.data;
        view.innerHTML = "<h2>" + esc(d.title) + "</h2>" + (d.children.length ? '<div class="mz-grid">' +
          d.children.map(function (c) {
            return '<a data-link class="mz-card" href="/theme/' + c.path + '">' + esc(c.title) + "</a>";
          }).join("") + "</div>" : list(d.records));
      });
    }],
    [/^\/user\/profile$/, function () {
      api("user/profile").then(function (r) {
        if (r.status === 401) { location.href = "/login?redirect=" + encodeURIComponent("/user/profile"); return; }
        var u = r.data;
        view.innerHTML = '<h2>个人中心</h2><div class="mz-profile"><div class="mz-kv"><span class="mz-k">姓名</span><span class="mz-v">' +
          esc(u.realName) + '</span></div><div class="mz-kv"><span class="mz-k">证件号码</span><span class="mz-v">' + esc(u.idCard) +
          '</span></div><div class="mz-kv"><span class="mz-k">手机号码</span><span class="mz-v">' + esc(u.phone) +
          '</span></div></div><a href="/logout">退出登录</a>';
      });
    }]
  ];
  function render() {
    var path = location.pathname;
    for (var i = 0; i < routes.length; i++) {
      var m = path.match(routes[i][0]);
      if (m) { routes[i][1].apply(null, m.slice(1).map(function (x) { return x && decodeURIComponent(x); })); return; }
    }
    view.innerHTML = '<p class="mz-empty">页面不存在</p><p><a data-link href="/">返回首页</a></p>';
  }
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[data-link]");
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    go(a.getAttribute("href"), false);
  });
  window.addEventListener("popstate", render);
  searchBar();
  render();
})();
