/* 粤海政务服务网 bundle: catalogue, search results and guides drawn from the JSON API. */
(function () {
  var wrap = document.getElementById('mainWrap');
  var kind = wrap.getAttribute('data-page');
  var arg = wrap.getAttribute('data-arg');
  var PROMISE_LABELS = ['承诺办结时限', '承诺办理时限', '承诺期限'];

  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function pad(label) { return '\n                ' + label + '\n            '; }
  window.openGuide = function (code) { window.open('/portal/v2/guide/' + encodeURIComponent(code), '_blank'); };

  function items(body) {
    return fetch('/portal/api/v2/solr/getCommonAuditItem', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body)
    }).then(function (r) { return r.json(); }).then(function (d) { return d.CUSTOM; });
  }

  function catalogue(pageNo) {
    items({ AREA_CODE: '440000', TYPE: '001001010', PAGENO: pageNo, PAGESIZE: 10 }).then(function (c) {
      document.getElementById('list').innerHTML = c.AUDIT_ITEMLIST.map(function (it) {
        return '<div class="item-row"><span class="item-name" onclick="openGuide(\'' + esc(it.TASK_CODE) + '\')">' +
          esc(it.TASK_NAME) + '</span><span class="item-dept">' + esc(it.DEPT_NAME) + '</span>' +
          '<span class="btn-guide" onclick="openGuide(\'' + esc(it.TASK_CODE) + '\')">办事指南</span></div>';
      }).join('');
      var info = c.PAGEINFO, pages = Math.ceil(info.TOTALNUM / info.PAGESIZE);
      var pager = document.querySelector('.pager');
      pager.innerHTML = '共' + info.TOTALNUM + '项 ' + info.CURRENTPAGEINDEX + '/' + pages +
        (info.CURRENTPAGEINDEX < pages ? ' <span class="next">下一页</span>' : '');
      var next = pager.querySelector('.next');
      if (next) next.addEventListener('click', function () { catalogue(pageNo + 1); });
    });
  }

  function results(keyword) {
    items({ AREA_CODE: '440000', KEYWORD: keyword, PAGENO: 1, PAGESIZE: 10 }).then(function (c) {
      var list = c.AUDIT_ITEMLIST;
      document.getElementById('result').innerHTML = list.length ?
        '<p class="total">共找到' + c.PAGEINFO.TOTALNUM + '条结果</p><ul class="result-list">' +
        list.map(function (it) {
          return '<li class="result-item"><div class="result-title" onclick="openGuide(\'' + esc(it.TASK_CODE) +
            '\')">' + esc(it.TASK_NAME) + '</div><p class="result-dept">实施主体：' + esc(it.DEPT_NAME) + '</p></li>';
        }).join('') + '</ul>' : '<p class="empty">暂无相关结果</p>';
    });
  }

  function row(label, value, label2, value2) {
    var out = '<tr><th>' + pad(label) + '</th><td' + (label2 ? '' : ' colspan="3"') + '>' + value + '</td>';
    if (label2) out += '<th>' + pad(label2) + '</th><td>' + value2 + '</td>';
    return out + '</tr>';
  }
  function block(title, html) {
    return '<div class="matters-block"><h3 class="block-title">' + pad(title) + '</h3>' + html + '</div>';
  }

  function guide(code) {
    fetch('/portal/api/v2/item-event/getAuditItemDetailCur?TASK_CODE=' + encodeURIComponent(code))
      .then(function (r) { return r.json(); }).then(function (d) {
        var g = d.CUSTOM;
        var promiseLabel = PROMISE_LABELS[parseInt(g.TASK_CODE.slice(-1), 36) % 3];
        var tags = g.IS_FEE === '1' ? '' : '<span class="tag tag-free">不收费</span>';
        var html = '<h1 class="matters-title">' + esc(g.TASK_NAME) + '</h1><div class="tags">' + tags + '</div>';
        html += '<table class="matters-table">' + row('实施编码', esc(g.TASK_CODE), '实施主体', esc(g.DEPT_NAME));
        if (g.ANTICIPATE_DAY || g.PROMISE_DAY) {
          html += row('法定办结时限', g.ANTICIPATE_DAY ? esc(g.ANTICIPATE_DAY) + esc(g.ANTICIPATE_TYPE_TEXT) : '',
            promiseLabel, g.PROMISE_DAY ? esc(g.PROMISE_DAY) + esc(g.PROMISE_TYPE_TEXT) : '');
        }
        if (g.TRANSACT_ADDR) html += row('办理地点', esc(g.TRANSACT_ADDR));
        if (g.TRANSACT_TIME) html += row('办理时间', esc(g.TRANSACT_TIME));
        html += row('咨询电话', esc(g.LINK_TEL), '投诉电话', esc(g.TSTEL)) + '</table>';
        if (g.ACCEPT_CONDITION) html += block('受理条件', '<div class="matters-truncate">' + esc(g.ACCEPT_CONDITION) + '</div>');
        if (g.BY_LAW) html += block('设定依据', '<div class="matters-truncate">' + esc(g.BY_LAW) + '</div>');
        html += block('申请材料', '<ol class="material-list">' + g.AUDIT_MATERIAL.map(function (m) {
          return '<li><table class="material"><tr><td class="m-name">' + esc(m.MATERIAL_NAME) + '</td><td>' +
            esc(m.MATERIAL_FORMAT) + ' ' + m.PAGE_NUM + '份</td><td><a href="javascript:;">样表下载</a></td></tr></table></li>';
        }).join('') + '</ol>');
        if (g.HANDLE_FLOW) html += block('办理流程', '<div class="matters-truncate">' + esc(g.HANDLE_FLOW) + '</div>');
        if (g.IS_FEE === '1') html += block('许可收费', '<div class="fee">' + esc(g.FEE_STAND) + '</div>');
        html += '<div class="update">更新时间：' + esc(g.UPDATE_DATE) + '</div>';
        if (g.ONLINE_URL) html += '<a class="btn-online" href="' + esc(g.ONLINE_URL) + '" target="_blank">在线办理</a>';
        wrap.innerHTML = html;
        document.title = g.TASK_NAME + ' - 办事指南';
      });
  }

  function usercenter() {
    fetch('/portal/api/v2/user/info').then(function (r) { return r.json(); }).then(function (d) {
      if (d.STATUS !== 200) return;
      var name = d.CUSTOM.USER_NAME;
      var hello = document.createElement('p');
      hello.className = 'uc-hello';
      hello.textContent = '您好，' + name.charAt(0) + '*';
      wrap.insertBefore(hello, wrap.firstChild);
    });
  }

  if (kind === 'catalogue') catalogue(1);
  else if (kind === 'search') results(arg);
  else if (kind === 'guide') guide(arg);
  else if (kind === 'usercenter') usercenter();
})();
