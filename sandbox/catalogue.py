"""The real 四川 catalogue (plus the few synthetic items the keywords need), and seeded guides.

Names, codes and departments are real (``data/sichuan_guangan_items.csv``, Apache-2.0); the guide
texts are generated from a seed per item so that every run of the sandbox serves the same pages
and the ground truth stays exact.
"""

from __future__ import annotations

import csv
import hashlib
import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

# 区 departments of the real catalogue → the neutral department name used in the provinces.
DEPARTMENT_NAMES = {
    "区公安分局": "公安厅",
    "区民政局": "民政厅",
    "民政局": "民政厅",
    "区人社局": "人力资源和社会保障厅",
    "区交通运输局": "交通运输厅",
    "交通运输局": "交通运输厅",
    "区卫健局": "卫生健康委员会",
    "卫生健康局": "卫生健康委员会",
    "区市监局": "市场监督管理局",
    "市场监督管理局": "市场监督管理局",
    "区医疗保障局": "医疗保障局",
    "区住建局": "住房和城乡建设厅",
    "区自然资源和规划局": "自然资源厅",
    "区行政审批局": "政务服务管理局",
    "广安区税务局": "税务局",
    "税务局": "税务局",
    "住房公积金管理中心": "住房公积金管理中心",
    "发展改革委": "发展和改革委员会",
    "区农业农村局": "农业农村厅",
    "区文广旅局": "文化和旅游厅",
    "区应急管理局": "应急管理厅",
}


@dataclass(frozen=True)
class Guide:
    """The guide elements of one item, keyed by the normalised names of guide_elements.yaml."""

    fields: dict[str, str]
    materials: tuple[str, ...]
    updated: date

    def without(self, names: tuple[str, ...]) -> Guide:
        return replace(self, fields={k: v for k, v in self.fields.items() if k not in names})


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    department: str  # neutral name (see DEPARTMENT_NAMES)
    synthetic: bool
    guide: Guide = field(compare=False)


def _seed(*parts: str) -> random.Random:
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


LAWS = [
    "《中华人民共和国行政许可法》",
    "《社会救助暂行办法》",
    "《中华人民共和国社会保险法》",
    "《中华人民共和国道路运输条例》",
    "《中华人民共和国居民身份证法》",
    "《婚姻登记条例》",
    "《住房公积金管理条例》",
    "《中华人民共和国个人所得税法》",
    "《中华人民共和国市场主体登记管理条例》",
    "《公共场所卫生管理条例》",
]
MATERIALS = [
    "申请人居民身份证",
    "申请表（原件）",
    "户口簿",
    "营业执照副本",
    "委托书（委托办理时提供）",
    "相关证明材料",
    "近期一寸免冠照片",
    "场所平面图",
    "劳动合同",
    "承诺书",
]
BASE_DATE = date(2025, 3, 1)


def make_guide(code: str, name: str, department: str, province: str) -> Guide:
    """A complete, plausible guide for an item; the same inputs always give the same guide."""
    rnd = _seed(province, code)
    legal = rnd.choice([20, 30, 60])
    promise = rnd.choice([1, 3, 5, 10])
    fee = rnd.random() < 0.2
    materials = tuple(rnd.sample(MATERIALS, k=rnd.randint(2, 4)))
    fields = {
        "事项名称": name,
        "实施编码": code,
        "实施主体": department,
        "设定依据": f"{rnd.choice(LAWS)}第{rnd.randint(2, 60)}条",
        "受理条件": f"符合{name}相关规定，申请材料齐全、符合法定形式。",
        "办理流程": "1.申请 2.受理 3.审查 4.决定 5.送达",
        "法定办结时限": f"{legal}个工作日",
        "承诺办结时限": f"{promise}个工作日",
        "办理地点": f"政务服务中心{rnd.randint(1, 3)}楼{rnd.randint(1, 40)}号窗口",
        "办理时间": "工作日 上午9:00-12:00，下午13:30-17:00",
        "是否收费": "是" if fee else "否",
        "收费标准": f"按规定收取工本费{rnd.choice([10, 20, 40])}元" if fee else "不收费",
        "咨询电话": f"0{rnd.randint(810, 839)}-{rnd.randint(2000000, 8999999)}",
        "监督电话": "12345",
    }
    updated = BASE_DATE + timedelta(days=rnd.randint(0, 150))
    return Guide(fields=fields, materials=materials, updated=updated)


@cache
def _rows() -> tuple[tuple[str, str, str, bool], ...]:
    out: list[tuple[str, str, str, bool]] = []
    with (DATA_DIR / "sichuan_guangan_items.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out.append((row["itemCode"], row["item_name"], row["department"], False))
    with (DATA_DIR / "synthetic_items.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out.append((row["itemCode"], row["item_name"], row["department"], True))
    return tuple(out)


def find(
    province: str, *, names: tuple[str, ...] = (), department: str | None = None, limit: int = 0
) -> list[Item]:
    """Items by exact name (in the order given) or the first ``limit`` items of a source department."""
    rows = _rows()
    picked: list[tuple[str, str, str, bool]] = []
    if names:
        by_name = {r[1]: r for r in rows}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise KeyError(f"not in the catalogue: {missing}")
        picked = [by_name[n] for n in names]
    elif department:
        picked = [r for r in rows if r[2] == department][:limit]
    items = []
    for code, name, dept, synthetic in picked:
        neutral = DEPARTMENT_NAMES.get(dept, dept.removeprefix("区"))
        items.append(Item(code, name, neutral, synthetic, make_guide(code, name, neutral, province)))
    return items
