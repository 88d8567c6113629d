/* 浙东省政务服务网 front end: a hash-routed single-page app over the /zsfw/api JSON endpoints. */
(function () {
  var LABELS = [
    ["taskName", "服务名称"], ["taskCode", "实施编码"], ["deptName", "办理部门"], ["byLaw", "法律依据"],
    ["acceptCondition", "办理条件"], ["materials", "材料清单"], ["handleFlow", "办事流程"],
    ["anticipateDay", "法定办结时限"], ["promiseDay", "承诺办结时限"], ["transactAddr", "受理地点"],
    ["transactTime", "受理时间"], ["isFee", "是否收费"], ["feeStand", "收费标准"], ["linkWay", "咨询方式"],
    ["superviseWay", "投诉电话"], ["updateTime", "更新日期"]
  ];
  var view = document.getElementById("view");
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function api(path) {
    return fetch("/zsfw/api/" + path, {credentials: "same-origin"}).then(function (r) {
      if (r.status === 401) { location.href = "/zsfw/login"; throw new Error("login"); }
      return r.json();
    });
  }
  function cards(list) {
    return '<div class="zs-cards">' + list.map(function (t) {
      return '<a class="zs-card" href="#/guide/' + encodeURIComponent(t.taskCode) + '"><span class="zs-card-name">' +
        esc(t.taskName) + '</span><em>' + esc(t.deptName || "") + '</em></a>';
    }).join("") + "</div>";
  }
  var routes = {
    home: function () {
      api("depts").then(function (r) {
        view.innerHTML = '<section class="zs-banner"><form id="zs-search" role="search">' +
          '<input id="zs-kw" type="search" placeholder="搜索服务事项" aria-label="搜索">' +
          '<button type="submit">搜索</button></form></section>' +
          '<h2 class="zs-h">部门服务</h2><div class="zs-depts">' + r.data.map(function (d) {
            return '<a class="zs-dept" href="#/dept/' + d.deptId + '">' + esc(d.deptName) + "</a>";
          }).join("") + '</div><p><a class="zs-more" href="#/topics">更多主题服务</a></p>';
        document.getElementById("zs-search").onsubmit = function (e) {
          e.preventDefault();
          location.hash = "#/search?kw=" + encodeURIComponent(document.getElementById("zs-kw").value);
        };
      });
    },
    dept: function (id) {
      api("items?deptId=" + id).then(function (r) {
        view.innerHTML = '<h2 class="zs-h">' + esc(r.data.deptName) + "</h2>" + cards(r.data.list);
      });
    },
    topics: function () {
      api("topics?path=" + Array.prototype.slice.call(arguments).join("/")).then(function (r) {
        var d = r.data;
        view.innerHTML = '<h2 class="zs-h">' + esc(d.title) + "</h2>" + (d.items ? cards(d.items) :
          '<div class="zs-depts">' + d.children.map(function (c) {
            return '<a class="zs-dept" href="#/topics/' + c.path + '">' + esc(c.title) + "</a>";
          }).join("") + "</div>");
      });
    },
    guide: function (code) {
      api("guide?taskCode=" + encodeURIComponent(code)).then(function (r) {
        var g = r.data, rows = "";
        LABELS.forEach(function (l) {
          var v = g[l[0]];
          if (v === undefined || v === null || v === "" || (v.length === 0)) return;
          if (l[0] === "materials") {
            v = "<ol>" + v.map(function (m) { return "<li>" + esc(m.materialName) + "</li>"; }).join("") + "</ol>";
          } else { v = esc(v); }
          rows += '<div class="zs-row"><div class="zs-k">' + l[1] + '</div><div class="zs-v">' + v + "</div></div>";
        });
        var online = g.onlineUrl ? '<a class="zs-go" href="' + esc(g.onlineUrl) + '">网上申报</a>' : "";
        view.innerHTML = '<h2 class="zs-h">' + esc(g.taskName) + "</h2>" + online + '<div class="zs-guide">' + rows + "</div>";
      });
    },
    search: function (q) {
      var kw = new URLSearchParams(q || "").get("kw") || "";
      api("search?keyword=" + encodeURIComponent(kw) + "&pageNo=1&pageSize=10").then(function (r) {
        view.innerHTML = '<h2 class="zs-h">“' + esc(kw) + '”的搜索结果（共' + r.data.total + "条）</h2>" +
          (r.data.list.length ? cards(r.data.list) : '<p class="zs-empty">暂无相关服务</p>');
      });
    },
    user: function () {
      api("user/info").then(function (r) {
        var u = r.data;
        view.innerHTML = '<h2 class="zs-h">我的主页</h2><ul class="zs-user"><li>姓名：<span>' + esc(u.userName) +
          "</span></li><li>证件号码：<span>" + esc(u.idNo) + "</span></li><li>手机号码：<span>" + esc(u.mobile) +
          '</span></li></ul><a href="/zsfw/logout">退出登录</a>';
      });
    }
  };
  function render() {
    var h = location.hash.replace(/^#\/?/, "") || "home";
    var q = h.indexOf("?") >= 0 ? h.slice(h.indexOf("?") + 1) : "";
    var parts = h.split("?")[0].split("/");
    var fn = routes[parts[0]] || routes.home;
    if (parts[0] === "search") { fn(q); } else { fn.apply(null, parts.slice(1).map(decodeURIComponent)); }
  }
  window.addEventListener("hashchange", render);
  render();
})();
