/* 浙里省政务服务网 (zjservice-fe): a hash-routed app; every datum through POST /interface/gateway.do. */
(function () {
  var app = document.getElementById('app');

  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function pad(label) { return '\n                    ' + label + '\n                '; }
  function gateway(method, params) {
    return fetch('/interface/gateway.do', {
      method: 'POST', headers: { 'Content-Type': 'application/json;charset=UTF-8' },
      body: JSON.stringify({ method: method, params: params || {} })
    }).then(function (r) { return r.json(); });
  }
  function query(hash) {
    var out = {}, q = hash.split('?')[1] || '';
    q.split('&').forEach(function (kv) {
      if (!kv) return;
      var p = kv.split('=');
      out[decodeURIComponent(p[0])] = decodeURIComponent((p[1] || '').replace(/\+/g, ' '));
    });
    return out;
  }
  function openGuide(inner) {
    window.open('/zjservice-fe/#/workguide?localInnerCode=' + encodeURIComponent(inner), '_blank');
  }

  function shell(inner) {
    app.innerHTML =
      '<div class="zj-header"><span class="zj-logo">浙里省政务服务网</span>' +
      '<div class="zj-nav"><a href="#/home">首页</a> <a href="#/usercenter">个人中心</a> ' +
      '<a href="/zjservice-fe/login?redirect=%23%2Fusercenter">登录</a></div>' +
      '<div class="zj-search"><input id="kw" placeholder="搜索服务事项"><button id="go">搜索</button></div></div>' +
      '<div class="zj-main">' + inner + '</div>';
    var go = function () { location.hash = '#/search?keyword=' + encodeURIComponent(document.getElementById('kw').value); };
    document.getElementById('go').addEventListener('click', go);
    document.getElementById('kw').addEventListener('keydown', function (e) { if (e.key === 'Enter') go(); });
  }

  function bindMatters(box, list) {
    box.innerHTML = list.map(function (it) {
      return '<div class="matter-row"><div class="matter-item" data-inner="' + esc(it.localInnerCode) + '">' +
        esc(it.qlName) + '</div><span class="matter-dept">' + esc(it.deptName) + '</span>' +
        '<button class="matter-btn" data-inner="' + esc(it.localInnerCode) + '">办事指南</button></div>';
    }).join('');
    box.querySelectorAll('[data-inner]').forEach(function (el) {
      el.addEventListener('click', function () { openGuide(el.getAttribute('data-inner')); });
    });
  }

  function home() {
    shell('<div class="zj-hot"><h3>热门服务</h3><ul id="hot"></ul></div><div class="zj-depts"><h3>部门服务</h3><ul id="depts"></ul></div>');
    gateway('mgop.zj.matter.hotList').then(function (d) {
      document.getElementById('hot').innerHTML = d.data.data.list.map(function (it) {
        return '<li><a href="#/workguide?localInnerCode=' + esc(it.localInnerCode) + '">' + esc(it.qlName) + '</a></li>';
      }).join('');
    });
    gateway('mgop.zj.dept.list').then(function (d) {
      document.getElementById('depts').innerHTML = d.data.data.list.map(function (it) {
        return '<li><a href="#/dept?deptCode=' + esc(it.deptCode) + '">' + esc(it.deptName) + '</a></li>';
      }).join('');
    });
  }

  function dept(q) {
    shell('<h3>部门事项</h3><div id="matters">加载中…</div><div id="pager"></div>');
    var load = function (n) {
      gateway('mgop.zj.matter.listByDept', { deptCode: q.deptCode, pageNo: n, pageSize: 10 }).then(function (d) {
        var data = d.data.data;
        bindMatters(document.getElementById('matters'), data.list);
        var pager = document.getElementById('pager');
        var pages = Math.ceil(data.total / data.pageSize);
        pager.innerHTML = '共' + data.total + '项' + (n < pages ? ' <button id="next">下一页</button>' : '');
        var next = document.getElementById('next');
        if (next) next.addEventListener('click', function () { load(n + 1); });
      });
    };
    load(1);
  }

  function search(q) {
    shell('<div id="result">搜索中…</div>');
    gateway('mgop.zj.matter.search', { keyword: q.keyword || '', pageNo: 1, pageSize: 10 }).then(function (d) {
      var data = d.data.data, box = document.getElementById('result');
      if (!data.list.length) { box.innerHTML = '<p class="empty">没有找到相关服务</p>'; return; }
      box.innerHTML = '<p>为您找到' + data.total + '个相关服务</p><div id="hits"></div>';
      bindMatters(document.getElementById('hits'), data.list);
    });
  }

  function limit(l, tip) {
    if (!l) return '';
    return '<span>' + esc(l.value) + '</span>' + esc(l.unit) +
      (tip ? ' <span class="wg-tip" title="' + tip + '说明">查看时限说明</span>' : '');
  }
  function rowHtml(label, value, field) {
    return '<div class="wg-row"><div class="wg-label">' + pad(label) + '</div><div class="wg-value" data-field="' +
      field + '">' + value + '</div></div>';
  }
  function block(title, inner) {
    return '<div class="wg-block"><div class="wg-block__hd">' + pad(title) + '</div><div class="wg-block__bd">' + inner + '</div></div>';
  }

  function workguide(q) {
    shell('<div class="workguide" id="wg">加载中…</div>');
    gateway('mgop.zj.matter.workGuide', { localInnerCode: q.localInnerCode }).then(function (d) {
      var box = document.getElementById('wg');
      if (d.code !== '0') { box.innerHTML = '<p>事项不存在</p>'; return; }
      var g = d.data.data;
      var html = '<div class="wg-title">' + esc(g.qlName) + '</div><div class="wg-tags">' +
        (g.chargeFlag ? '' : '<span class="wg-tag">不收费</span>') + '<span class="wg-tag">网上办理</span></div>';
      var basic = rowHtml('事项编码', esc(g.qlCode), 'qlCode') + rowHtml('实施机构', esc(g.deptName), 'deptName');
      if (g.legalLimit) basic += rowHtml('法定办结时限', limit(g.legalLimit, ''), 'legalLimit');
      if (g.promiseLimit) basic += rowHtml('承诺办结时限', limit(g.promiseLimit, '承诺办结时限'), 'promiseLimit');
      html += block('基本信息', basic);
      if (g.acceptCondition) html += block('受理条件', esc(g.acceptCondition));
      html += block('申请材料', '<ol class="wg-materials">' + g.materialList.map(function (m) {
        return '<li><table><tr><td class="name">' + esc(m.materialName) + '</td><td>' + esc(m.materialForm) + '</td><td>' +
          m.num + '份</td></tr></table></li>';
      }).join('') + '</ol>');
      if (g.setBasis) html += block('设定依据', esc(g.setBasis) + ' <a class="wg-more" href="javascript:;">展开</a>');
      if (g.processDesc) html += block('办理流程', esc(g.processDesc));
      var window_ = '';
      if (g.handleAddress) window_ += rowHtml('办理地点', esc(g.handleAddress), 'handleAddress');
      if (g.handleTime) window_ += rowHtml('办理时间', esc(g.handleTime), 'handleTime');
      window_ += rowHtml('咨询方式', esc(g.consultTel), 'consultTel') + rowHtml('监督投诉方式', esc(g.complainTel), 'complainTel');
      html += block('窗口办理', window_);
      if (g.chargeFlag) html += block('许可收费', esc(g.chargeStandard));
      html += '<div class="wg-update">更新时间：' + esc(g.updateDate) + '</div>';
      if (g.onlineUrl) html += '<a class="wg-online" href="' + esc(g.onlineUrl) + '" target="_blank">在线办理</a>';
      box.innerHTML = html;
    });
  }

  function usercenter() {
    gateway('mgop.zj.user.info').then(function (d) {
      if (d.code === '401') { location.href = '/zjservice-fe/login?redirect=' + encodeURIComponent('#/usercenter'); return; }
      var u = d.data.data;
      shell('<div class="uc"><h3>个人中心</h3>' + rowHtml('姓名', esc(u.userName), 'userName') +
        rowHtml('证件号码', esc(u.idNo), 'idNo') + rowHtml('手机号码', esc(u.mobile), 'mobile') + '</div>');
    });
  }

  function route() {
    var hash = location.hash || '#/home', path = hash.split('?')[0], q = query(hash);
    if (path === '#/dept') dept(q);
    else if (path === '#/search') search(q);
    else if (path === '#/workguide') workguide(q);
    else if (path === '#/usercenter') usercenter();
    else home();
  }
  window.addEventListener('hashchange', route);
  route();
})();
