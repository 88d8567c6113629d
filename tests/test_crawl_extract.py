"""Reading guides and links the way a person reads a page (no network)."""

from __future__ import annotations

import pytest

from crawler.extract import (
    frame_sources,
    guide_from_html,
    guides_from_json,
    onclick_target,
    page_links,
    parse_html,
)
from crawler.labels import GuideElements
from zwaudit.config import load_config


@pytest.fixture(scope="module")
def elements() -> GuideElements:
    return GuideElements.from_data(load_config(validate_probes=False).read_data("guide_elements.yaml"))


EPOINT_TABS = """<html><body><h2>居住证办理</h2>
<ul class="tabs"><li onclick="showTab(0)">基本信息</li><li onclick="showTab(1)">申报材料</li>
<li onclick="showTab(2)">办理流程</li></ul>
<div><table><tr><td class="label">事项编码</td><td>11510000MB1234567X4000</td></tr>
<tr><td class="label">实施机构</td><td>公安厅</td></tr><tr><td class="label">承诺时限</td><td>5个工作日</td></tr>
<tr><td class="label">申报材料</td><td><ol><li>居民身份证</li><li>申请表（原件）</li></ol></td></tr>
<tr><td class="label">监督投诉方式</td><td>12345</td></tr></table></div>
<p><span>办理时间：</span>工作日 9:00-17:00</p>
<dl><dt>受理地点</dt><dd>政务服务中心1楼</dd></dl></body></html>"""


def test_labels_next_to_values_make_a_guide(elements: GuideElements) -> None:
    guide = guide_from_html(parse_html(EPOINT_TABS), elements)
    assert guide is not None
    assert guide.code == "11510000MB1234567X4000"
    assert guide.department == "公安厅"
    assert guide.fields["申请材料"] == ["居民身份证", "申请表(原件)"]
    assert guide.fields["承诺办结时限"] == "5个工作日"
    assert guide.fields["监督电话"] == "12345"
    assert guide.fields["办理时间"] == "工作日 9:00-17:00"
    assert guide.fields["办理地点"] == "政务服务中心1楼"
    assert guide.name == "居住证办理"  # no 事项名称 label: the page heading


def test_a_catalogue_header_row_is_not_a_guide(elements: GuideElements) -> None:
    listing = """<table><tr><th>事项名称</th><th>实施编码</th><th>实施主体</th><th>办理地点</th></tr>
    <tr><td>居住证办理</td><td>115100001</td><td>公安厅</td><td>大厅</td></tr></table>"""
    assert guide_from_html(parse_html(listing), elements) is None


def test_material_table_takes_the_name_column(elements: GuideElements) -> None:
    html = """<table><tr><th>办理时间</th><td>工作日</td></tr><tr><th>办理地点</th><td>大厅</td></tr></table>
    <h3>申请材料</h3><table><tr><th>序号</th><th>材料名称</th><th>份数</th></tr>
    <tr><td>1</td><td>身份证</td><td>1</td></tr><tr><td>2</td><td>户口簿</td><td>1</td></tr></table>"""
    guide = guide_from_html(parse_html(html), elements)
    assert guide is not None
    assert guide.fields["申请材料"] == ["身份证", "户口簿"]


def test_json_guides_found_anywhere_in_the_body(elements: GuideElements) -> None:
    body = {
        "code": 0,
        "data": {
            "taskName": "网约车驾驶员证核发",
            "taskCode": "ABC1234567",
            "deptName": "交通运输厅",
            "promiseDay": "10个工作日",
            "materials": [{"materialName": "驾驶证", "orderNum": 1}, {"materialName": "身份证"}],
            "isFee": "否",
        },
    }
    [guide] = list(guides_from_json(body, elements))
    assert guide.code == "ABC1234567"
    assert guide.fields["申请材料"] == ["驾驶证", "身份证"]
    listing = {"data": {"list": [{"taskName": "甲", "taskCode": "X1234567", "deptName": "乙"}]}}
    assert list(guides_from_json(listing, elements)) == []  # a catalogue row, not a guide


def test_profile_aliases_extend_the_labels(elements: GuideElements) -> None:
    extended = GuideElements.from_data(
        load_config(validate_probes=False).read_data("guide_elements.yaml"), {"办理时间": ["窗口时间"]}
    )
    assert extended.element_for("窗口时间：") == "办理时间"
    with pytest.raises(ValueError, match="unknown element"):
        GuideElements.from_data(
            load_config(validate_probes=False).read_data("guide_elements.yaml"), {"x": ["y"]}
        )


def test_links_include_onclick_navigation_through_page_functions() -> None:
    root = parse_html(
        """<a href="javascript:void(0)" onclick="ywblurl('g1')">居住证</a>
        <a href="#top">top</a><a href="#/guide/1">spa</a><a href="mailto:a@b.c">mail</a>
        <span onclick="window.open('/help')">help</span><a href="/list?page=2#x">next</a>
        <script>function ywblurl(g){location.href='/guide/detail?taskguid='+g}</script>"""
    )
    plain = [link.url for link in page_links(root, "http://h:1/a/b.html", keep_hash_routes=False)]
    assert plain == [
        "http://h:1/guide/detail?taskguid=g1",
        "http://h:1/a/b.html",
        "http://h:1/help",
        "http://h:1/list?page=2",
    ]
    rendered = [link.url for link in page_links(root, "http://h:1/a/b.html", keep_hash_routes=True)]
    assert "http://h:1/a/b.html#/guide/1" in rendered
    assert onclick_target("doSomething(1)", {}) is None


def test_frames_are_part_of_the_page() -> None:
    root = parse_html(
        '<frameset><frame src="top.html"><frame src="/main/list.jsp?x=1"></frameset>'
        '<iframe name="mainFrame" src="/main/list.jsp?x=1"></iframe><iframe src="about:blank"></iframe>'
    )
    assert frame_sources(root, "http://h/a/index.html") == [
        "http://h/a/top.html",
        "http://h/main/list.jsp?x=1",
    ]


# issue 13, class 4: a value cell holds controls and hints beside the value; the number and its
# unit are split across elements; class 5: labels padded with indentation (a text node of more
# than 40 characters around a 6-character title)
PADDED = "\n" + " " * 22 + "法定办结时限" + "\n" + " " * 18
CONTROLS = f"""<html><body><h1>居住证签注</h1><table class="info">
<tr><th>   承诺办结时限   </th><td><span>10</span>个工作日
  <span class="tips" title="承诺办结时限说明">查看时限说明</span></td></tr>
<tr><td class="tit">{PADDED}</td><td><span>20</span>个工作日<a href="javascript:;">展开</a></td></tr>
<tr><th>咨询电话</th><td>0826-2345678 <button type="button">复制</button></td></tr>
<tr><th>是否收费</th><td><button class="tag" type="button">否</button></td></tr>
<tr><th>办理地点</th><td>政务服务中心2楼<a href="javascript:;">查看地图详情</a></td></tr>
</table></body></html>"""


def test_value_cells_leave_controls_out(elements: GuideElements) -> None:
    assert len(PADDED) > 40
    guide = guide_from_html(parse_html(CONTROLS), elements)
    assert guide is not None
    assert guide.fields["承诺办结时限"] == "10个工作日"
    assert guide.fields["法定办结时限"] == "20个工作日"
    assert guide.fields["咨询电话"] == "0826-2345678"
    assert guide.fields["是否收费"] == "否"  # a value drawn as a button is still the value
    assert guide.fields["办理地点"] == "政务服务中心2楼"


# class 5: real guide pages (Sichuan-style sections): a header row of labels over one value row
# with a synonym (承诺期限), a section heading beside a 更多 control with an ``ol`` of one small
# table per material below, a fee given only as a badge, a condition under its heading
def pad(title: str) -> str:
    """A section title as real pages indent it: a 42-character text node around 4 characters."""
    return "\n" + " " * 20 + title + "\n" + " " * 16


SECTIONS = f"""<html><body><h1>食品经营许可</h1>
<div class="section1"><table class="table22">
<tr><th>法定办结时限</th><th>承诺期限</th></tr>
<tr><td>20个工作日</td><td><span>5</span>个工作日</td></tr></table></div>
<div class="section3"><div class="title">{pad("设定依据")}</div><div>《食品安全法》第35条</div></div>
<div class="section7"><div class="title"><span>{pad("办理流程")}</span></div><div>申请、受理、审查、决定</div></div>
<div class="section5"><div class="title"><h3>{pad("申请材料")}</h3><a href="javascript:;" class="more">更多</a></div>
<ol id="material">
<li><table><tr><td>材料名称</td><td>居民身份证</td></tr><tr><td>材料形式</td><td>原件</td></tr></table></li>
<li><table><tr><td>材料名称</td><td>食品经营许可申请书</td></tr><tr><td>份数</td><td>1</td></tr></table></li>
</ol></div>
<div class="section8"><span class="badge">不收费</span></div>
<div class="section6"><h3>受理条件</h3><div class="content"><p>申请人已取得营业执照。</p></div></div>
</body></html>"""


def test_labels_read_as_a_person_reads_them(elements: GuideElements) -> None:
    guide = guide_from_html(parse_html(SECTIONS), elements)
    assert guide is not None
    assert guide.fields["法定办结时限"] == "20个工作日"
    assert guide.fields["承诺办结时限"] == "5个工作日"
    assert guide.fields["申请材料"] == ["居民身份证", "食品经营许可申请书"]
    assert guide.fields["是否收费"] == "否"
    assert guide.fields["受理条件"] == "申请人已取得营业执照。"
    assert len(pad("设定依据")) == 42
    assert guide.fields["设定依据"] == "《食品安全法》第35条"
    assert guide.fields["办理流程"] == "申请、受理、审查、决定"
    for synonym in ("承诺办结时限", "承诺办理时限", "承诺期限", "承诺时限"):
        assert elements.element_for(f"  {synonym}：") == "承诺办结时限"


def test_a_catalogue_with_labels_over_many_rows_stays_a_listing(elements: GuideElements) -> None:
    listing = """<table><tr><th>法定办结时限</th><th>承诺期限</th></tr>
    <tr><td>20个工作日</td><td>5个工作日</td></tr><tr><td>30个工作日</td><td>10个工作日</td></tr></table>"""
    assert guide_from_html(parse_html(listing), elements) is None


def test_an_accordion_button_is_a_label(elements: GuideElements) -> None:
    """Accordion guides (a button per section, its panel below): the button's text is the label."""
    html = """<h1>户口迁移</h1><button aria-expanded="true">办理地点</button><div role="region">政务服务中心</div>
    <button aria-expanded="false">  申请材料  </button><div role="region" hidden><ol><li>户口簿</li><li>身份证</li></ol></div>"""
    guide = guide_from_html(parse_html(html), elements)
    assert guide is not None
    assert guide.fields["办理地点"] == "政务服务中心" and guide.fields["申请材料"] == ["户口簿", "身份证"]


# Real API and page shapes seen on the real-structure family: the fee given by a section heading
# and its standard, or by a heading above a 不收费 badge; a number and its unit in sibling keys;
# a guide whose name is shown only as a title block (no label, no h1)
def test_a_fee_heading_is_not_a_fee_and_a_stated_standard_is(elements: GuideElements) -> None:
    free = f"""<h1>户口迁移</h1><div class="section4"><div>{pad("办理地点")}</div><div>政务服务中心</div></div>
    <div class="section8"><div class="bt"><span>{pad("收费")}</span></div><span class="badge">不收费</span></div>"""
    guide = guide_from_html(parse_html(free), elements)
    assert guide is not None and guide.fields["是否收费"] == "否"  # not 是 from the heading 收费
    charged = f"""<h1>户口迁移</h1><div><div>{pad("办理地点")}</div><div>政务服务中心</div></div>
    <div class="wg-block"><div class="hd">{pad("许可收费")}</div><div class="bd">工本费每证10元</div></div>"""
    guide = guide_from_html(parse_html(charged), elements)
    assert guide is not None
    assert guide.fields["收费标准"] == "工本费每证10元" and guide.fields["是否收费"] == "是"
    nothing = """<h1>户口迁移</h1><div><div>办理地点</div><div>政务服务中心</div></div>
    <div><div>许可收费</div><div>不收费</div></div>"""
    guide = guide_from_html(parse_html(nothing), elements)
    assert guide is not None and guide.fields.get("是否收费") != "是"


def test_an_api_number_is_read_with_its_unit_from_a_sibling_key(elements: GuideElements) -> None:
    data = {
        "TASK_NAME": "户口迁移",
        "TASK_CODE": "11510000MB0000001-1",
        "PROMISE_DAY": "5",
        "PROMISE_TYPE_TEXT": "个工作日",
        "ANTICIPATE_DAY": 20,
        "ANTICIPATE_TYPE_TEXT": "自然日",
        "TRANSACT_ADDR": "政务服务中心",
    }
    aliases = {
        "法定办结时限": ["ANTICIPATE_DAY"],
        "承诺办结时限": ["PROMISE_DAY"],
        "办理地点": ["TRANSACT_ADDR"],
        "事项名称": ["TASK_NAME"],
        "实施编码": ["TASK_CODE"],
    }  # a profile's crawl.api.field_aliases
    data_yaml = load_config(validate_probes=False).read_data("guide_elements.yaml")
    mapped = GuideElements.from_data(data_yaml, aliases)
    guides = list(guides_from_json(data, mapped))
    assert len(guides) == 1
    assert guides[0].fields["承诺办结时限"] == "5个工作日"
    assert guides[0].fields["法定办结时限"] == "20自然日"
    # a number with no unit anywhere stays a bare number (compared as a number alone)
    bare = dict(data, PROMISE_TYPE_TEXT="")
    assert next(iter(guides_from_json(bare, mapped))).fields["承诺办结时限"] == "5"


def test_a_guide_without_a_labelled_name_is_named_by_the_link_that_led_to_it(
    elements: GuideElements,
) -> None:
    page = """<html><head><title>浙里省政务服务网</title></head><body>
    <div class="logo">浙里省政务服务网</div><div class="wg-title">零售药店申请定点协议管理</div>
    <div><div>办理地点</div><div>医保服务大厅</div></div><div><div>承诺办结时限</div><div>5个工作日</div></div>
    <div><div>申请材料</div><ol><li>申请书</li></ol></div></body></html>"""
    named = guide_from_html(parse_html(page), elements, "零售药店申请定点协议管理")
    assert named is not None and named.name == "零售药店申请定点协议管理"
    # a generic control text (办事指南) is not shown as a block: the document title, as before
    generic = guide_from_html(parse_html(page), elements, "办事指南")
    assert generic is not None and generic.name == "浙里省政务服务网"
