"""The search_accuracy judge and keyword rules, from hand-made observations (no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from probes.search.catalogue import Catalogue, CatalogueItem, offer
from probes.search.judge import SearchObservation, SearchResult, measure
from probes.search.judge import judge_search as judge_all
from probes.search.keywords import KeywordRule, KeywordRules, load_keywords, normalize_title
from zwaudit.errors import ConfigError
from zwaudit.findings import Finding
from zwaudit.outcomes import ErrorKind, Status

PROJECT_KEYWORDS = Path(__file__).resolve().parent.parent / "config" / "keywords.yaml"


@pytest.fixture(scope="module")
def rules() -> KeywordRules:
    return load_keywords(PROJECT_KEYWORDS)


def rule(rules: KeywordRules, word: str) -> KeywordRule:
    return next(r for r in rules.keywords if r.keyword == word)


def offering_all(rules: KeywordRules) -> Catalogue:
    """A catalogue offering every expected service under its official name."""
    return Catalogue(tuple(CatalogueItem(s.name) for r in rules.keywords for s in r.expected), run_id=1)


FULL = offering_all(load_keywords(PROJECT_KEYWORDS))


def judge_search(o: SearchObservation, r: KeywordRule, top_n: int, threshold: float) -> Finding:
    """The single finding of a keyword judged against a catalogue that offers every service."""
    findings = judge_all(o, r, top_n, threshold, FULL)
    assert len(findings) == 1, findings
    return findings[0]


def obs(word: str, *titles: str, empty: str | None = None) -> SearchObservation:
    return SearchObservation(
        word, [SearchResult(t, f"https://x.invalid/{i}") for i, t in enumerate(titles)], empty
    )


def test_project_file_has_the_ten_keywords(rules: KeywordRules) -> None:
    words = [r.keyword for r in rules.keywords]
    assert words == [
        "公积金",
        "个税",
        "社保",
        "结婚",
        "低保",
        "网约车",
        "卫生证",
        "身份证",
        "开公司",
        "工业生产许可",
    ]
    assert rules.top_n == 10 and rules.imprecise_threshold == 0.5


def test_synonyms_make_a_pass(rules: KeywordRules) -> None:
    """People's words are not official names: 低保 is answered by 最低生活保障."""
    f = judge_search(obs("低保", "最低生活保障金给付", "特困人员救助供养"), rule(rules, "低保"), 10, 0.5)
    assert f.status is Status.PASS and f.code is None
    assert f.detail["recall"] == 1.0 and f.detail["precision_at_n"] == 1.0
    assert f.detail["matched"] == {"最低生活保障": [1]}

    ride = obs("网约车", "网络预约出租汽车运输证发放", "网络预约出租汽车驾驶员证核发", "巡游出租汽车经营许可")
    assert judge_search(ride, rule(rules, "网约车"), 10, 0.5).status is Status.PASS
    firm = obs("开公司", "有限责任公司设立登记", "营业执照办理指南")
    assert judge_search(firm, rule(rules, "开公司"), 10, 0.5).status is Status.PASS


def test_full_width_and_spaces_are_normalised(rules: KeywordRules) -> None:
    assert normalize_title("住房 公积金（提取）ＡＢ") == "住房公积金(提取)AB"
    f = judge_search(obs("公积金", "住房 公积金 提取", "住房公积金 缴存"), rule(rules, "公积金"), 10, 0.5)
    assert f.status is Status.PASS


def test_no_results_message_is_not_found(rules: KeywordRules) -> None:
    f = judge_search(obs("个税", empty="没有找到相关结果"), rule(rules, "个税"), 10, 0.5)
    assert (f.status, f.code) == (Status.FAIL, "not_found")
    assert f.detail["empty_message"] == "没有找到相关结果" and f.detail["recall"] == 0.0


def test_unreadable_page_is_an_error_not_a_fail(rules: KeywordRules) -> None:
    """No list and no 'no results' text: the observer failed, the portal is not blamed."""
    f = judge_search(obs("个税"), rule(rules, "个税"), 10, 0.5)
    assert (f.status, f.code) == (Status.ERROR, ErrorKind.NOT_FOUND.value)


def test_observer_errors_pass_through(rules: KeywordRules) -> None:
    o = SearchObservation("社保", error=ErrorKind.TIMEOUT, error_message="results did not load in 30s")
    f = judge_search(o, rule(rules, "社保"), 10, 0.5)
    assert (f.status, f.code) == (Status.ERROR, "timeout")
    assert f.detail["error"] == "results did not load in 30s"


def test_missing_expected_service_is_incomplete(rules: KeywordRules) -> None:
    f = judge_search(obs("公积金", "住房公积金提取", "公积金贷款"), rule(rules, "公积金"), 10, 0.5)
    assert (f.status, f.code) == (Status.FAIL, "incomplete")
    assert f.detail["missing"] == ["住房公积金缴存"] and f.detail["recall"] == 0.5


def test_irrelevant_share_above_threshold_is_imprecise(rules: KeywordRules) -> None:
    titles = ["内地居民结婚登记", "补领结婚证", "机动车驾驶证换证", "出生医学证明", "建设工程规划许可"]
    f = judge_search(obs("结婚", *titles), rule(rules, "结婚"), 10, 0.5)
    assert (f.status, f.code) == (Status.FAIL, "imprecise")
    assert f.detail["irrelevant_ranks"] == [3, 4, 5] and f.detail["precision_at_n"] == 0.4


def test_threshold_is_strictly_above(rules: KeywordRules) -> None:
    """Exactly half irrelevant is not 搜不准 (the rule says 'above')."""
    titles = ["内地居民结婚登记", "补领结婚证", "机动车驾驶证换证", "出生医学证明"]
    assert judge_search(obs("结婚", *titles), rule(rules, "结婚"), 10, 0.5).status is Status.PASS


def test_incomplete_and_imprecise_are_two_rows(rules: KeywordRules) -> None:
    """Class 7: each (keyword, code) is its own finding, nothing hidden in the detail."""
    titles = ["工业产品许可", "道路运输许可", "食品经营许可"]
    findings = judge_all(obs("工业生产许可", *titles), rule(rules, "工业生产许可"), 10, 0.5, FULL)
    assert [(f.status, f.code) for f in findings] == [
        (Status.FAIL, "incomplete"),
        (Status.FAIL, "imprecise"),
    ]
    assert all("also" not in f.detail for f in findings)
    assert {f.target for f in findings} == {"工业生产许可"}
    offered = offer(rule(rules, "工业生产许可"), FULL, 90)
    assert measure(rule(rules, "工业生产许可"), titles, 0.5, offered).codes == ("incomplete", "imprecise")


def test_only_the_top_n_count(rules: KeywordRules) -> None:
    """An expected service on rank 11 is not in the top 10: a person does not see it."""
    titles = ["最低生活保障金停发"] + ["机动车登记"] * 4 + ["低保边缘家庭认定"] * 5 + ["其他"]
    f = judge_search(obs("低保", *titles), rule(rules, "低保"), 10, 0.5)
    assert f.status is Status.PASS and f.detail["results_read"] == 10
    late = ["机动车登记"] * 10 + ["最低生活保障"]
    g = judge_all(obs("低保", *late), rule(rules, "低保"), 10, 0.5, FULL)
    assert [(f.status, f.code) for f in g] == [(Status.FAIL, "incomplete"), (Status.FAIL, "imprecise")]


def test_bad_keywords_file_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "keywords.yaml"
    bad.write_text(
        "keywords:\n  低保:\n    expected:\n      - name: x\n        match: ['(']\n", encoding="utf-8"
    )
    with pytest.raises(
        ConfigError, match=r"keywords\.yaml: keywords\.低保\.expected\.0\.match: invalid regular"
    ):
        load_keywords(bad)
    bad.write_text("keywords:\n  低保:\n    expectd: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"keywords\.低保\.expectd: unknown key"):
        load_keywords(bad)
    bad.write_text("top_n: 0\nkeywords: {a: {}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="top_n"):
        load_keywords(bad)


def test_item_the_portal_does_not_offer_is_not_incomplete(rules: KeywordRules) -> None:
    """Class 1: the portal's catalogue has 最低生活保障 items but no 网约车 items at all; all
    results irrelevant → imprecise only, the absent services recorded as not_offered."""
    catalogue = Catalogue(
        (
            CatalogueItem("最低生活保障金给付"),
            CatalogueItem("巡游出租汽车经营许可"),
            CatalogueItem("结婚登记"),
        ),
        run_id=7,
    )
    titles = ["机动车驾驶证换证", "建设工程规划许可", "出生医学证明"]
    findings = judge_all(obs("网约车", *titles), rule(rules, "网约车"), 10, 0.5, catalogue)
    assert [(f.status, f.code) for f in findings] == [(Status.FAIL, "imprecise")]
    d = findings[0].detail
    assert d["not_offered"] == ["网络预约出租汽车运输证发放", "网络预约出租汽车驾驶员证核发"]
    assert d["missing"] == [] and d["catalogue"]["available"] and d["catalogue"]["run_id"] == 7
    assert d["coverage"] == {"catalogue_items_considered": 0, "not_offered": 2}


def test_offered_item_under_its_official_name_counts(rules: KeywordRules) -> None:
    """An offered item is found by its catalogue name, even where the keyword's patterns miss it."""
    catalogue = Catalogue(
        (CatalogueItem("住房公积金提取（退休）"), CatalogueItem("住房公积金单位缴存登记")), run_id=3
    )
    titles = ["住房公积金提取（退休）", "住房公积金单位缴存登记"]
    findings = judge_all(obs("公积金", *titles), rule(rules, "公积金"), 10, 0.5, catalogue)
    assert [f.status for f in findings] == [Status.PASS]
    considered = findings[0].detail["catalogue"]["considered"]
    assert considered == {
        "住房公积金提取": ["住房公积金提取（退休）"],
        "住房公积金缴存": ["住房公积金单位缴存登记"],
    }
    missing = judge_all(obs("公积金", "住房公积金提取（退休）"), rule(rules, "公积金"), 10, 0.5, catalogue)
    assert [(f.code, f.detail["missing"]) for f in missing] == [("incomplete", ["住房公积金缴存"])]


def test_without_catalogue_incomplete_is_not_judged(rules: KeywordRules) -> None:
    """No crawl: the finding says so; only not_found and imprecise can be judged."""
    o = obs("公积金", "住房公积金提取", "公积金贷款")
    findings = judge_all(o, rule(rules, "公积金"), 10, 0.5, None, catalogue_note="crawl not run")
    assert [f.status for f in findings] == [Status.PASS]
    assert findings[0].detail["catalogue"] == {
        "available": False,
        "note": "crawl not run",
        "judged": ["not_found", "imprecise"],
    }
    noise = obs("公积金", "机动车登记", "出生医学证明", "住房公积金提取")
    assert [f.code for f in judge_all(noise, rule(rules, "公积金"), 10, 0.5, None)] == ["imprecise"]
    empty = obs("公积金", empty="没有找到相关结果")
    assert [f.code for f in judge_all(empty, rule(rules, "公积金"), 10, 0.5, None)] == ["not_found"]


def test_nothing_found_where_nothing_is_offered_is_not_not_found(rules: KeywordRules) -> None:
    """A city catalogue without any tax item: a search for 个税 that finds nothing is right."""
    city = Catalogue((CatalogueItem("最低生活保障金给付"), CatalogueItem("结婚登记")), run_id=2)
    [f] = judge_all(obs("个税", empty="没有找到相关结果"), rule(rules, "个税"), 10, 0.5, city)
    assert f.status is Status.PASS and f.detail["nothing_offered"] is True
    assert f.detail["not_offered"] == ["个人所得税纳税申报", "开具个人所得税纳税记录"]
    # one relevant item is enough for an empty answer to be 搜不到
    taxed = Catalogue((*city.items, CatalogueItem("个人所得税专项附加扣除")), run_id=2)
    [g] = judge_all(obs("个税", empty="没有找到相关结果"), rule(rules, "个税"), 10, 0.5, taxed)
    assert (g.status, g.code) == (Status.FAIL, "not_found")


def test_the_check_judges_a_stored_observation_without_a_browser(rules: KeywordRules, tmp_path: Path) -> None:
    """The two-phase search_accuracy: its observation survives the JSON round trip the runner
    makes, and its judge (no browser, no database) gives one verdict per keyword of the rules: the
    keywords after a portal-wide error are that error, a keyword never searched is a config error."""
    from probes.search_accuracy import SearchAccuracy, SearchAccuracyObservation, SearchRules
    from zwaudit import observations
    from zwaudit.evidence import EvidenceWriter
    from zwaudit.findings import utcnow

    first, second, third = (r.keyword for r in rules.keywords[:3])
    observed = SearchAccuracyObservation(
        searched=[
            SearchObservation(first, [SearchResult(s.name) for s in rule(rules, first).expected]),
            SearchObservation(second, error=ErrorKind.BLOCKED, error_message="403", how={"stage": "submit"}),
        ],
        catalogue_items=list(FULL.items),
        catalogue_run=1,
    )

    writer = EvidenceWriter(1, "p", "search_accuracy", root=tmp_path)
    _, text = observations.write(writer, "search_accuracy", "1.1.0", observed, utcnow())
    stored = observations.parse(text, SearchAccuracyObservation)
    assert stored == observed
    check = SearchAccuracy()
    findings = check.judge(stored, SearchRules(rules, rules.top_n))
    by_keyword = {f.target: f for f in findings}
    assert by_keyword[first].status is Status.PASS
    assert by_keyword[second].code == ErrorKind.BLOCKED.value
    assert by_keyword[third].code == ErrorKind.BLOCKED.value  # after a block: not searched
    assert len(findings) == len(rules.keywords)
    added = SearchAccuracyObservation(searched=stored.searched[:1])
    assert {f.code for f in check.judge(added, SearchRules(rules, rules.top_n)) if f.target == third} == {
        ErrorKind.CONFIG.value
    }
