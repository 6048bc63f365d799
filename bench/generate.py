"""A synthetic province for benchmarks, bulk-loaded with PostgreSQL COPY.

    python -m bench.generate --database-url URL [--scale 1.0] [--seed 1] [--years 10]
                             [--end-year 2026] [--as-of YYYY-MM-DD] [--force-append]

At scale 1.0: ~1,000 org units (the province root → 16 cities of Anhui → their ~100 real
counties/districts → departments and townships, depth up to 4), 200,000 cadres, ~10 million
study logs over `--years` calendar years ending with `--end-year` (cut at `--as-of`), ~20,000
training sessions with their enrollments. Every count scales linearly with `--scale`.

The target database must be migrated to head (`python -m app.cli migrate`); the loader refuses
otherwise, and refuses a database that already holds cadres unless `--force-append` (which adds a
second, independent province with its own codes and HR ids). Nothing of the schema is changed:
rows go through `COPY ... FROM STDIN (FORMAT binary)` with every constraint, index and foreign key
in force, in one transaction (all or nothing), then `VACUUM (ANALYZE)`. One exception, inside
that transaction only: the audit trigger of each loaded table (`audit_trail_insert`, migration
0013) is disabled for the load and enabled again before the commit, so a fixture of millions of
rows writes no audit rows and no change events. Every other trigger fires, in particular the ones
that keep the `cadre_year_kind` sums of study_log (migration 0004).

Rows are produced in creation order: study-log ids are UUIDv7 whose timestamp is the log's
`created_at`, and logs are written in that order, so the heap and the primary key grow the way
production's do (the (cadre_id, start_date) index is the one written at random). A worker thread
builds the next chunk while the previous one is being copied.

Same seed, same arguments (including `--as-of`) → the same rows, except the ciphertexts of the
ID numbers (random nonces) and the timestamps of the load itself.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import math
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from operator import itemgetter
from typing import Any

import asyncpg  # type: ignore[import-untyped, unused-ignore]
from stdnum.cn import ric

from app.config import get_settings
from app.enums import (
    CadreStatus,
    EnrollmentOrigin,
    EnrollmentStatus,
    Gender,
    OrgUnitKind,
    PostType,
    Rank,
    SessionStatus,
    StudyLogKind,
    StudyLogSource,
    StudyLogStatus,
    TrainingForm,
)
from app.migrations import head_revisions
from app.personal_data import IdNumberCipher

Row = tuple[Any, ...]
Chunk = tuple[str, list[Row]]

# --------------------------------------------------------------------------------------------
# Sizes at scale 1.0 and the mixes
# --------------------------------------------------------------------------------------------

ORG_UNITS = 1_000
CADRES = 200_000
STUDY_LOGS = 10_000_000
SESSIONS = 20_000
DEFAULT_CHUNK = 100_000

RANK_SHARES = (
    (Rank.department_bureau, 0.002),
    (Rank.county_division, 0.12),
    (Rank.township_section, 0.38),
)  # the rest are section_member
INACTIVE_SHARE = 0.03
RECENTLY_PROMOTED_SHARE = 0.08  # promoted_on within the last two years
HIRED_IN_WINDOW_SHARE = 0.15  # the rest were loaded by the HR system at go-live

# Study-log kinds: weights for leading ranks (county_division and above) and for the others.
# Overall ≈ online 42%, central group 12%, self-study 14%, lecture 9%, seminar 6%, reading 8%,
# centralised 4%, thesis 2%, teaching 1.5%, study tour 0.6%, secondment/job rotation 0.2% each.
K = StudyLogKind
KINDS: tuple[StudyLogKind, ...] = (
    K.online_course,
    K.central_group_study,
    K.self_study,
    K.lecture,
    K.seminar,
    K.reading_note,
    K.centralised_training,
    K.thesis,
    K.teaching,
    K.study_tour,
    K.secondment,
    K.job_rotation,
)
# Leading cadres take most of the centralised training (docs/rules.md N1: 90 days or 550 h in 5
# years).
KIND_WEIGHTS_LEADING = (36.0, 20.0, 10.0, 10.0, 7.0, 6.0, 25.0, 2.5, 1.6, 0.9, 0.3, 0.3)
KIND_WEIGHTS_OTHER = (43.5, 11.0, 14.5, 9.0, 6.0, 8.3, 1.5, 1.9, 1.5, 0.5, 0.2, 0.2)
ONLINE = KINDS.index(K.online_course)
# Share of the draws of a kind that go through a training session (enrollment → closing → log).
SESSION_LINK = {
    KINDS.index(K.centralised_training): 0.8,
    KINDS.index(K.lecture): 0.08,
    KINDS.index(K.online_course): 0.02,
    KINDS.index(K.seminar): 0.05,
    KINDS.index(K.study_tour): 0.3,
}
# Online-course records pushed by the e-learning platform: one record per finished programme
# (several weeks, tens of hours); the rest are single courses entered by hand.
IMPORTED_ONLINE_SHARE = 0.7

# Status mix of study logs not issued by a session: 92% approved, 4% pending, 2% / 2%.
P_APPROVED, P_PENDING, P_REJECTED = 0.92, 0.96, 0.98

# Relative weight of a calendar month (Spring Festival, summer, year-end rush) and of weekends.
MONTH_WEIGHTS = (0.9, 0.6, 1.1, 1.1, 1.0, 1.05, 0.8, 0.75, 1.05, 0.9, 1.2, 1.35)
WEEKEND_WEIGHT = 0.4

LOCAL_OFFSET_S = 8 * 3600  # Asia/Shanghai, no DST since 1991
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
CENT = Decimal("0.01")
V7 = 0x7 << 76
VARIANT = 0b10 << 62
MASK62 = (1 << 62) - 1

# --------------------------------------------------------------------------------------------
# Names and words
# --------------------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林峰志国建文东海春晓亮兵"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲桂丹萍红梅琳莉雪颖慧婷倩琴云洁璐佳蕾晶岚薇虹玉秀英兰凤"
PLACE_SYLLABLES = "东西南北中新安平和丰宁康河山湖桥集庄店岗塘圩城阳林青花龙凤金石马白"

POSITIONS = {
    Rank.department_bureau: ("副市长", "市委常委", "副厅长", "巡视员", "一级巡视员", "厅长"),
    Rank.county_division: (
        "县长",
        "副县长",
        "局长",
        "副局长",
        "处长",
        "副处长",
        "四级调研员",
        "二级调研员",
        "县委常委",
    ),
    Rank.township_section: (
        "科长",
        "副科长",
        "镇长",
        "副镇长",
        "乡长",
        "党委副书记",
        "一级主任科员",
        "二级主任科员",
        "四级主任科员",
    ),
    Rank.section_member: ("科员", "一级科员", "二级科员", "办事员", "四级主任科员", "科员"),
}

PROVINCE_DEPARTMENTS = _words(
    "省委组织部 中共安徽省委党校 省委宣传部 省委统战部 省发展和改革委员会 "
    "省教育厅 省科学技术厅 省公安厅 省民政厅 省司法厅 省财政厅 "
    "省人力资源和社会保障厅 省自然资源厅 省生态环境厅 省住房和城乡建设厅 "
    "省交通运输厅 省水利厅 省农业农村厅 省商务厅 省文化和旅游厅 "
    "省卫生健康委员会 省应急管理厅 省审计厅 省市场监督管理局"
)
# "{}" is the city's or the county's name.
LOCAL_DEPARTMENTS = _words(
    "{}委组织部 中共{}委党校 {}委宣传部 {}委办公室 {}政府办公室 "
    "{}发展和改革委员会 {}教育体育局 {}公安局 {}财政局 "
    "{}人力资源和社会保障局 {}自然资源和规划局 {}住房和城乡建设局 "
    "{}农业农村局 {}卫生健康委员会 {}交通运输局 {}水利局 {}商务局 "
    "{}文化和旅游局 {}应急管理局 {}审计局 {}市场监督管理局 {}民政局 "
    "{}司法局 {}统计局 {}生态环境分局 {}医疗保障局 {}信访局 "
    "{}数据资源管理局"
)
# Depth-4 units: offices under a county department, by what the department's name ends with.
SUB_UNITS = {
    "公安局": ("{p}派出所", "交通警察大队", "刑事侦查大队"),
    "教育体育局": ("{p}中心学校", "{p}中学"),
    "自然资源和规划局": ("{p}自然资源所",),
    "农业农村局": ("{p}农业技术推广站", "农业综合执法大队"),
    "市场监督管理局": ("{p}市场监督管理所",),
    "卫生健康委员会": ("{p}卫生院", "疾病预防控制中心"),
    "交通运输局": ("公路管理站", "交通运输综合执法大队"),
    "水利局": ("{p}水利站", "河道管理所"),
    "生态环境分局": ("生态环境监测站", "生态环境保护综合执法大队"),
}

TOPICS = _words(
    "习近平新时代中国特色社会主义思想 党的二十大精神 党章党规党纪 全面从严治党 "
    "乡村振兴战略 新发展理念 数字政府建设 依法行政 生态文明建设 "
    "应急管理与安全生产 统一战线工作 意识形态工作 基层治理现代化 优化营商环境 "
    "长三角一体化发展 科技创新与产业升级 共同富裕 党史学习教育 领导力提升 "
    "公文写作 信访工作法治化 防范化解重大风险 民法典 保密知识 廉政警示教育 "
    "招商引资 新型城镇化 粮食安全 网络安全 国家安全观"
)
BOOKS = _words(
    "习近平谈治国理政 之江新语 摆脱贫困 中国共产党简史 论中国共产党历史 "
    "习近平的七年知青岁月 乡土中国 平凡的世界 万历十五年 中国的治理"
)
PLACES = ("浙江", "江苏", "上海", "深圳", "福建", "山东", "井冈山", "延安", "小岗村", "合肥")
PARTY_SCHOOLS = _words(
    "中共安徽省委党校 中国浦东干部学院 中国井冈山干部学院 中国延安干部学院 "
    "安徽大学继续教育学院 中国科学技术大学 浙江大学继续教育学院"
)

TITLE_TEMPLATES: dict[StudyLogKind, tuple[str, ...]] = {
    K.online_course: ("网络课程：{t}", "{t}（网络专题班）", "在线学习：{t}"),
    K.central_group_study: ("理论学习中心组学习：{t}", "中心组专题学习：{t}"),
    K.self_study: ("自学：{t}", "个人自学：{t}"),
    K.lecture: ("专题讲座：{t}", "{t}专题辅导报告"),
    K.seminar: ("{t}研讨交流会", "{t}专题研讨"),
    K.reading_note: ("读书笔记：《{b}》",),
    K.centralised_training: ("{t}专题培训班", "中青年干部培训班：{t}", "{t}轮训班"),
    K.thesis: ("关于{t}的调研报告", "{t}调研文章"),
    K.teaching: ("授课：{t}", "为基层干部讲授{t}"),
    K.secondment: ("赴{p}挂职锻炼", "挂职锻炼（{p}）"),
    K.job_rotation: ("交流轮岗", "跨部门交流任职"),
    K.study_tour: ("赴{p}考察学习{t}", "{p}{t}考察"),
}
PROVIDERS: dict[StudyLogKind, tuple[str | None, ...]] = {
    K.online_course: ("中国干部网络学院", "安徽干部教育在线", "安徽干部教育在线", "学习强国", None),
    K.central_group_study: (None, "理论学习中心组", "党组理论学习中心组"),
    K.self_study: (None,),
    K.lecture: ("中共安徽省委党校", "市委党校", "县委党校", "省委宣讲团", None),
    K.seminar: (None, "市委党校", "县委党校"),
    K.reading_note: (None,),
    K.centralised_training: (*PARTY_SCHOOLS, "市委党校", "县委党校"),
    K.thesis: (None, "市委政策研究室"),
    K.teaching: ("县委党校", "市委党校", None),
    K.secondment: (None,),
    K.job_rotation: (None,),
    K.study_tour: (None, "市委组织部", "县委组织部"),
}
REJECT_COMMENTS = (
    "证明材料不全，请补充",
    "学时填写有误",
    "与已有记录重复",
    "不属于可认定的学习形式",
)
VOID_COMMENTS = ("重复录入，作废", "经核实未实际参加", "录入错误")
SESSION_ISSUED_COMMENT = "issued by closing the session"

# --------------------------------------------------------------------------------------------
# Anhui's region codes (python-stdnum's cn/loc database)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    code: str
    name: str  # current name, "" when the code is no longer in use
    spans: tuple[tuple[int, int], ...]  # years in use, inclusive

    def valid_in(self, year: int) -> bool:
        return any(lo <= year <= hi for lo, hi in self.spans)


def _anhui_regions() -> list[Region]:
    text = (resources.files("stdnum.cn") / "loc.dat").read_text(encoding="utf-8")
    regions: list[Region] = []
    in_anhui = False
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not line.startswith(" "):
            in_anhui = line.startswith("34 ")
            continue
        if not in_anhui:
            continue
        suffix, _, props = line.strip().partition(" ")
        value = props.partition('county="')[2].rstrip('"')
        spans: list[tuple[int, int]] = []
        current = ""
        for part in value.split(","):
            if part.startswith("["):
                years, name = part[1:].split("]", 1)
                lo_s, hi_s = years.split("-")
                hi = int(hi_s) if hi_s else 9999
                spans.append((int(lo_s) if lo_s else 1900, hi))
                if hi == 9999:
                    current = name
            else:
                spans.append((1900, 9999))
                current = part
        regions.append(Region("34" + suffix, current, tuple(spans)))
    return regions


# --------------------------------------------------------------------------------------------
# The calendar
# --------------------------------------------------------------------------------------------


class Calendar:
    """Days are indices from `base` (a date well before the window); all lookups are lists."""

    def __init__(self, window_start: date, as_of: date) -> None:
        self.base = window_start.toordinal() - 800
        self.window_start = window_start.toordinal() - self.base
        self.as_of = as_of.toordinal() - self.base
        self.last = self.as_of + 160  # open sessions run up to ~100 days ahead
        n = self.last + 1
        self.dates = [date.fromordinal(self.base + i) for i in range(n)]
        # UTC epoch seconds of each local midnight.
        self.midnight = [(self.base + i - EPOCH_ORDINAL) * 86400 - LOCAL_OFFSET_S for i in range(n)]
        self.weekday = [(self.base + i + 6) % 7 for i in range(n)]  # Monday = 0
        cum = [0.0]
        for i in range(n):
            d = self.dates[i]
            w = MONTH_WEIGHTS[d.month - 1] * (WEEKEND_WEIGHT if self.weekday[i] >= 5 else 1.0)
            cum.append(cum[-1] + w)
        self.cum = cum
        # Nothing is recorded after the end of the as-of day.
        self.horizon_s = self.midnight[self.as_of] + 86400 - 1

    def day(self, d: date) -> int:
        return d.toordinal() - self.base

    def year_bounds(self, year: int) -> tuple[int, int]:
        return self.day(date(year, 1, 1)), self.day(date(year, 12, 31))

    def pick(self, rnd: float, lo: int, hi: int) -> int:
        """A day in [lo, hi] by the seasonal weights."""
        cum = self.cum
        u = cum[lo] + rnd * (cum[hi + 1] - cum[lo])
        i = bisect.bisect_right(cum, u, lo, hi + 2) - 1
        return lo if i < lo else hi if i > hi else i


def uuid7_hex(ms: int, bits: int) -> str:
    """UUIDv7 (RFC 9562) from a millisecond timestamp and 74 random bits, as 32 hex digits."""
    return f"{(ms << 80) | V7 | ((bits >> 62) << 64) | VARIANT | (bits & MASK62):032x}"


def dec(value: float) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------------------------
# The plan: sizes derived from the arguments
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    scale: float
    seed: int
    window_start: date
    as_of: date
    chunk: int
    tag: str  # prefix of codes and HR ids ("" for the first province in a database)

    @property
    def org_units(self) -> int:
        return max(10, round(ORG_UNITS * self.scale))

    @property
    def cadres(self) -> int:
        return max(20, round(CADRES * self.scale))

    @property
    def study_logs(self) -> int:
        return round(STUDY_LOGS * self.scale)

    @property
    def sessions(self) -> int:
        return round(SESSIONS * self.scale)


# --------------------------------------------------------------------------------------------
# Org tree
# --------------------------------------------------------------------------------------------

# Cadres per unit by the unit's role, and the rank-specific affinity of each role.
ROLE_WEIGHT = {
    "root": 30.0,
    "prov_dept": 300.0,
    "city": 100.0,
    "city_dept": 250.0,
    "county": 80.0,
    "county_dept": 150.0,
    "township": 200.0,
    "sub": 60.0,
}
RANK_AFFINITY: dict[Rank, dict[str, float]] = {
    Rank.department_bureau: {"root": 5, "prov_dept": 1, "city": 4, "city_dept": 0.05},
    Rank.county_division: {
        "root": 1,
        "prov_dept": 1,
        "city": 1.5,
        "city_dept": 1,
        "county": 3,
        "county_dept": 0.3,
        "township": 0.05,
    },
    Rank.township_section: {
        "root": 0.5,
        "prov_dept": 1,
        "city": 0.8,
        "city_dept": 1,
        "county": 1,
        "county_dept": 1.2,
        "township": 1.3,
        "sub": 1,
    },
    Rank.section_member: {
        "root": 0.3,
        "prov_dept": 1,
        "city": 0.7,
        "city_dept": 1,
        "county": 0.8,
        "county_dept": 1,
        "township": 1.2,
        "sub": 1.3,
    },
}


@dataclass
class Unit:
    id: str
    code: str
    name: str
    kind: OrgUnitKind
    role: str
    parent: Unit | None
    path: str
    depth: int
    city: int  # index of the city the unit belongs to; -1 for the province level
    region: str  # 6-digit region code of the people registered there ("" = anywhere)
    place: str  # the city's or county's name, for titles
    weight: float = 1.0
    children: int = 0
    departments: list[int] = field(default_factory=list)  # order of LOCAL_DEPARTMENTS to use


class OrgTree:
    def __init__(self, plan: Plan, cal: Calendar, regions: list[Region]) -> None:
        self.units: list[Unit] = []
        rng = random.Random(f"{plan.seed}:org")
        created_s = cal.midnight[cal.window_start - 2] + 9 * 3600
        self._ms = created_s * 1000
        self._rng = rng
        tag = plan.tag
        by_code = {r.code: r for r in regions}
        cities = [r for r in regions if r.code.endswith("00") and r.code != "340000" and r.name]
        counties_of = {
            c.code: [
                r
                for r in regions
                if r.code[:4] == c.code[:4]
                and not r.code.endswith("00")
                and r.name
                and r.name not in ("市辖区", "市区")
            ]
            for c in cities
        }
        n_cities = max(1, round(len(cities) * plan.scale))
        n_counties = max(n_cities, round(sum(map(len, counties_of.values())) * plan.scale))
        rest = max(0, plan.org_units - 1 - n_cities - n_counties)
        n_prov = round(rest * 0.027)
        n_city_depts = round(rest * 0.255)
        n_sub = max(1, round(rest * 0.045))
        n_county_children = max(n_counties, rest - n_prov - n_city_depts - n_sub)

        root = self._add(
            f"{tag}340000", "安徽省", OrgUnitKind.other, "root", None, -1, "", "安徽省"
        )
        for i in range(n_prov):
            name = PROVINCE_DEPARTMENTS[i % len(PROVINCE_DEPARTMENTS)]
            if i >= len(PROVINCE_DEPARTMENTS):
                name += f"（{i // len(PROVINCE_DEPARTMENTS) + 1}）"
            self._add(
                f"{tag}340000-{i + 1:02d}",
                name,
                OrgUnitKind.department,
                "prov_dept",
                root,
                -1,
                "",
                "安徽省",
            )
        city_units: list[Unit] = []
        copies = []
        for i in range(n_cities):
            city = cities[i % len(cities)]
            copy = i // len(cities)
            copies.append(copy)
            code = city.code if copy == 0 else f"{city.code}x{copy + 1}"
            name = city.name if copy == 0 else f"{city.name}（{copy + 1}）"
            city_units.append(
                self._add(f"{tag}{code}", name, OrgUnitKind.city, "city", root, i, city.code, name)
            )
        for n in range(n_city_depts):
            city_unit = city_units[n % n_cities]
            self._child(city_unit, "city_dept", OrgUnitKind.department)
        # Counties: each city's real ones in code order, round-robin over the cities while any
        # city has some left; numbered copies only when more are asked for than exist.
        reals = [
            counties_of[cities[i % len(cities)].code] or [by_code[u.region]]
            for i, u in enumerate(city_units)
        ]
        order = [
            (i, reals[i][k], lap)
            for lap in range(n_counties // max(1, sum(map(len, reals))) + 1)
            for k in range(max(map(len, reals)))
            for i in range(n_cities)
            if k < len(reals[i])
        ]
        county_units: list[Unit] = []
        for i, county, lap in order[:n_counties]:
            city_unit = city_units[i]
            suffix = "" if lap == 0 and copies[i] == 0 else f"x{i}-{lap}"
            name = county.name if not suffix else f"{county.name}（{copies[i] + lap + 1}）"
            kind = OrgUnitKind.district if county.name.endswith("区") else OrgUnitKind.county
            county_units.append(
                self._add(
                    f"{tag}{county.code}{suffix}",
                    name,
                    kind,
                    "county",
                    city_unit,
                    i,
                    county.code,
                    name,
                )
            )
        county_children: list[Unit] = []
        for n in range(n_county_children):
            county_unit = county_units[n % n_counties]
            # The first child of a county is its organisation department; then ~55% departments.
            if county_unit.children == 0 or rng.random() < 0.55:
                county_children.append(
                    self._child(county_unit, "county_dept", OrgUnitKind.department)
                )
            else:
                county_children.append(self._child(county_unit, "township", OrgUnitKind.township))
        parents = [
            u
            for u in county_children
            if u.role == "county_dept" and any(u.name.endswith(s) for s in SUB_UNITS)
        ] or county_children
        for _ in range(n_sub):
            self._child(rng.choice(parents), "sub", OrgUnitKind.other)
        for unit in self.units:
            unit.weight = ROLE_WEIGHT[unit.role] * rng.uniform(0.5, 1.5)
        self.n_cities = n_cities

    def _add(
        self,
        code: str,
        name: str,
        kind: OrgUnitKind,
        role: str,
        parent: Unit | None,
        city: int,
        region: str,
        place: str,
    ) -> Unit:
        self._ms += 7
        unit_id = uuid7_hex(self._ms, self._rng.getrandbits(74))
        path = f"{parent.path if parent else '/'}{unit_id}/"
        unit = Unit(
            unit_id,
            code,
            name,
            kind,
            role,
            parent,
            path,
            parent.depth + 1 if parent else 0,
            city,
            region,
            place,
        )
        if parent is not None:
            parent.children += 1
        self.units.append(unit)
        return unit

    def _child(self, parent: Unit, role: str, kind: OrgUnitKind) -> Unit:
        n = parent.children + 1
        rng = self._rng
        if role == "township":
            place = "".join(rng.sample(PLACE_SYLLABLES, 2))
            suffix = "街道" if parent.kind == OrgUnitKind.district else rng.choice("镇镇镇乡")
            name = place + suffix
        elif role == "sub":
            pattern = next((v for k, v in SUB_UNITS.items() if parent.name.endswith(k)), None)
            place = "".join(rng.sample(PLACE_SYLLABLES, 2))
            name = parent.name + rng.choice(pattern or ("综合执法大队", "服务中心")).format(p=place)
        else:
            # The organisation department first, then the others in a random order.
            if not parent.departments:
                rest = list(range(1, len(LOCAL_DEPARTMENTS)))
                rng.shuffle(rest)
                parent.departments = [0, *rest]
            index = parent.departments[(n - 1) % len(LOCAL_DEPARTMENTS)]
            name = LOCAL_DEPARTMENTS[index].format(parent.place)
            if n > len(LOCAL_DEPARTMENTS):
                name += f"（{(n - 1) // len(LOCAL_DEPARTMENTS) + 1}）"
        return self._add(
            f"{parent.code}-{n:02d}",
            name,
            kind,
            role,
            parent,
            parent.city,
            parent.region,
            parent.place,
        )

    def rows(self) -> list[Row]:
        rows = []
        for u in self.units:
            created = datetime.fromtimestamp(int(u.id[:12], 16) / 1000, UTC)
            parent_id = u.parent.id if u.parent else None
            row = (u.id, u.code, u.name, u.kind.value, parent_id, u.path, u.depth, True, 1)
            rows.append((*row, created, created))
        return rows


ORG_UNIT_COLUMNS = (
    "id",
    "code",
    "name",
    "kind",
    "parent_id",
    "path",
    "depth",
    "active",
    "version",
    "created_at",
    "updated_at",
)

# --------------------------------------------------------------------------------------------
# Cadres
# --------------------------------------------------------------------------------------------

CADRE_COLUMNS = (
    "id",
    "hr_id",
    "name",
    "id_number_ciphertext",
    "id_number_hash",
    "gender",
    "birth_date",
    "org_unit_id",
    "rank",
    "post_type",
    "position",
    "promoted_on",
    "status",
    "version",
    "created_at",
    "updated_at",
)

# Grades held without a leading post (职级); a leading post is anything else above 科员.
GRADE_WORDS = ("调研员", "巡视员", "主任科员", "科员", "办事员")


def _post_type(position: str | None, rank: Rank) -> PostType:
    if position is None or rank is Rank.section_member or any(w in position for w in GRADE_WORDS):
        return PostType.non_leading
    return PostType.leading


AGE_RANGE = {
    Rank.department_bureau: (46, 59),
    Rank.county_division: (35, 59),
    Rank.township_section: (27, 59),
    Rank.section_member: (22, 56),
}
MALE_SHARE = {
    Rank.department_bureau: 0.85,
    Rank.county_division: 0.78,
    Rank.township_section: 0.66,
    Rank.section_member: 0.55,
}


@dataclass(slots=True)
class CadreFacts:
    """What the log generator needs of a cadre."""

    id: str
    leading: bool
    city: int
    start: int  # first day with records (calendar day index)
    end: int  # last day with records
    enroll_until: int  # last start day of a session they may enroll in
    factor: float  # how active a learner


@dataclass
class Cadres:
    facts: list[CadreFacts] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


class IdNumbers:
    """Valid GB 11643 numbers, unique, born where the cadre works when the code allows it."""

    def __init__(self, regions: list[Region], rng: random.Random, taken: set[bytes]) -> None:
        self._regions = regions
        self._rng = rng
        self._seen: set[str] = set()
        self._taken = taken
        self._cache: dict[tuple[str, int], list[str]] = {}

    def _codes(self, prefix: str, year: int) -> list[str]:
        key = (prefix, year)
        codes = self._cache.get(key)
        if codes is None:
            codes = [
                r.code
                for r in self._regions
                if r.code.startswith(prefix) and r.valid_in(year) and not r.code.endswith("00")
            ]
            self._cache[key] = codes
        return codes

    def make(self, region: str, birth: date, male: bool, hasher: IdNumberCipher) -> str:
        rng = self._rng
        year = birth.year
        candidates: list[str] = []
        if region and rng.random() < 0.75:
            candidates = self._codes(region, year) or self._codes(region[:4], year)
        if not candidates:
            candidates = self._codes("34", year)
        stem = f"{birth:%Y%m%d}"
        while True:
            code = rng.choice(candidates)
            seq = rng.randrange(500) * 2 + (1 if male else 0)
            body = f"{code}{stem}{seq:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if number in self._seen:
                continue
            self._seen.add(number)
            if self._taken and hasher.lookup_hash(number) in self._taken:
                continue
            return number


def make_cadres(
    plan: Plan,
    cal: Calendar,
    tree: OrgTree,
    regions: list[Region],
    cipher: IdNumberCipher,
    taken_hashes: set[bytes],
) -> Cadres:
    rng = random.Random(f"{plan.seed}:cadres")
    n = plan.cadres
    ranks: list[Rank] = []
    for rank, share in RANK_SHARES:
        ranks += [rank] * round(n * share)
    ranks += [Rank.section_member] * (n - len(ranks))
    rng.shuffle(ranks)

    units = tree.units
    unit_of: dict[Rank, list[Unit]] = {}
    for rank in set(ranks):
        affinity = RANK_AFFINITY[rank]
        weights = [u.weight * affinity.get(u.role, 0.0) for u in units]
        if sum(weights) == 0:
            weights = [u.weight for u in units]
        unit_of[rank] = rng.choices(units, weights=weights, k=ranks.count(rank))

    ids = IdNumbers(regions, rng, taken_hashes)
    as_of = cal.as_of
    ws = cal.window_start
    span = as_of - ws
    bulk_s = cal.midnight[ws - 1] + 10 * 3600
    pending: list[tuple[int, Row, CadreFacts]] = []
    for i, rank in enumerate(ranks):
        unit = unit_of[rank].pop()
        lo, hi = AGE_RANGE[rank]
        birth_day = as_of - int(rng.uniform(lo, hi + 1) * 365.25)
        birth = cal_date(cal, birth_day)
        male = rng.random() < MALE_SHARE[rank]
        given = GIVEN_MALE if male else GIVEN_FEMALE
        name = rng.choice(SURNAMES) + "".join(rng.choices(given, k=rng.choice((1, 2, 2))))
        number = ids.make(unit.region, birth, male, cipher)
        adult = birth_day + 8036  # 22 years
        start = ws if rng.random() >= HIRED_IN_WINDOW_SHARE else ws + rng.randrange(span - 60)
        start = min(max(start, adult + rng.randrange(365)), as_of - 30)
        if start == ws:
            created_ms = bulk_s * 1000 + i * 20
        else:
            created_ms = (cal.midnight[start] + rng.randrange(8 * 3600, 18 * 3600)) * 1000
        active = rng.random() >= INACTIVE_SHARE
        end = as_of
        if not active:
            first = min(max(start + 180, ws + 365), as_of - 1)
            end = rng.randint(first, as_of - 1)
        r = rng.random()
        if r < RECENTLY_PROMOTED_SHARE:
            promoted: date | None = cal_date(cal, as_of - rng.randint(1, 730))
        elif rank == Rank.section_member and r > 0.5:
            promoted = None
        else:
            earliest = birth_day + 25 * 365
            latest = as_of - 731
            promoted = cal_date(cal, rng.randint(earliest, latest)) if earliest < latest else None
        position = rng.choice(POSITIONS[rank]) if rng.random() < 0.95 else None
        post_type = _post_type(position, rank)
        if post_type is PostType.non_leading:
            promoted = None  # only a promotion into a leading post is on record (rule 4)
        factor = rng.lognormvariate(0.0, 0.55) * (1.1 if rank != Rank.section_member else 1.0)
        if rng.random() < 0.03:
            factor *= 0.1  # a few hardly ever record anything
        leading = rank in (Rank.department_bureau, Rank.county_division)
        row = (
            name,
            cipher.encrypt(number),
            cipher.lookup_hash(number),
            (Gender.male if male else Gender.female).value,
            birth,
            unit.id,
            rank.value,
            post_type.value,
            position,
            promoted,
            (CadreStatus.active if active else CadreStatus.inactive).value,
        )
        # An active cadre may be enrolled in sessions that start after the as-of date.
        enroll_until = cal.last if active else end
        facts = CadreFacts("", leading, unit.city, start, end, enroll_until, factor)
        pending.append((created_ms, row, facts))
    pending.sort(key=itemgetter(0))
    result = Cadres()
    for seq, (created_ms, row, facts) in enumerate(pending, start=1):
        cadre_id = uuid7_hex(created_ms, rng.getrandbits(74))
        created = datetime.fromtimestamp(created_ms / 1000, UTC)
        facts.id = cadre_id
        hr_id = f"{plan.tag}AH{seq:08d}"
        result.rows.append((cadre_id, hr_id, *row, 1, created, created))
        result.facts.append(facts)
    return result


def cal_date(cal: Calendar, day: int) -> date:
    return cal.dates[day] if 0 <= day < len(cal.dates) else date.fromordinal(cal.base + day)


# --------------------------------------------------------------------------------------------
# Study-log profiles: (calendar days, hours, days) drawn per kind
# --------------------------------------------------------------------------------------------

Profile = tuple[int, Decimal, Decimal]
PROFILES_PER_KIND = 4096


def _profile(kind: StudyLogKind | None, rng: random.Random) -> tuple[int, float, float]:
    """Calendar span, hours and (training) days of one log of `kind` (None: an online
    programme imported from the e-learning platform)."""
    r = rng.random()
    if kind is None:
        span = rng.randint(7, 30) if r < 0.7 else rng.randint(31, 90)
        return span, rng.choice((10, 16, 20, 24, 30, 36, 40, 48, 50, 60)), 0
    if kind == K.online_course:
        span = 1 if r < 0.7 else rng.randint(2, 14)
        return span, rng.choice((1, 2, 2, 3, 4, 4, 6, 8, 10, 12)), 0
    if kind == K.central_group_study:
        return 1, rng.choice((2, 2.5, 3, 3, 3.5, 4)), 0
    if kind == K.self_study:
        span = 1 if r < 0.4 else rng.randint(2, 14) if r < 0.8 else rng.randint(15, 60)
        return span, rng.randint(4, 48) / 2, 0
    if kind == K.lecture:
        return 1, rng.choice((1.5, 2, 2.5, 3, 3, 3.5, 4)), 0
    if kind == K.seminar:
        span = rng.choice((1, 1, 1, 2, 3))
        return span, span * rng.choice((3, 3.5, 4, 5, 6, 7)), 0
    if kind == K.reading_note:
        span = 1 if r < 0.3 else rng.randint(7, 60)
        return span, rng.choice((0, 2, 3, 4, 4, 6)), 0
    if kind == K.centralised_training:
        span = rng.choice((5, 5, 6, 7, 7, 10, 12, 14, 14, 15, 20, 21, 28, 30))
        if rng.random() < 0.05:
            span = rng.randint(5, 30)
        days = span if rng.random() < 0.75 else max(1, span * 5 // 7)
        return span, round(days * rng.uniform(6.5, 7.5) * 2) / 2, days
    if kind == K.thesis:
        return rng.randint(14, 180), rng.choice((0, 8, 10, 12, 16, 20, 24)), 0
    if kind == K.teaching:
        return 1, rng.choice((1.5, 2, 2, 3, 4, 6)), 0
    if kind == K.secondment:
        return rng.randint(90, 365), rng.randint(96, 480) / 2, 0
    if kind == K.job_rotation:
        return rng.randint(180, 730), rng.randint(80, 320) / 2, 0
    # study tour
    span = rng.randint(3, 10)
    return span, span * rng.choice((5, 6, 6, 7)), span


IMPORTED_ONLINE = len(KINDS)  # index of the imported online programmes in the profile table


def make_profiles(seed: int) -> list[list[Profile]]:
    """One table per kind (in KINDS order), then one for IMPORTED_ONLINE."""
    rng = random.Random(f"{seed}:profiles")
    table: list[list[Profile]] = []
    for kind in (*KINDS, None):
        profiles = []
        for _ in range(PROFILES_PER_KIND):
            span, hours, days = _profile(kind, rng)
            hours = min(hours, 24 * span)
            profiles.append((span, dec(hours), dec(min(days, span))))
        table.append(profiles)
    return table


def make_titles(seed: int) -> list[list[str]]:
    rng = random.Random(f"{seed}:titles")
    table = []
    for kind in KINDS:
        titles = [
            rng.choice(TITLE_TEMPLATES[kind]).format(
                t=rng.choice(TOPICS), b=rng.choice(BOOKS), p=rng.choice(PLACES)
            )
            for _ in range(512)
        ]
        table.append(titles)
    return table


# --------------------------------------------------------------------------------------------
# Training sessions and enrollments
# --------------------------------------------------------------------------------------------

SESSION_COLUMNS = (
    "id",
    "title",
    "form",
    "centralised",
    "provider",
    "organiser_org_unit_id",
    "start_date",
    "end_date",
    "days",
    "credit_hours",
    "capacity",
    "enrolled",
    "status",
    "version",
    "created_at",
    "updated_at",
)
ENROLLMENT_COLUMNS = (
    "id",
    "training_session_id",
    "cadre_id",
    "origin",
    "status",
    "leave_hours",
    "score",
    "version",
    "created_at",
    "updated_at",
)
STUDY_LOG_COLUMNS = (
    "id",
    "cadre_id",
    "kind",
    "title",
    "provider",
    "start_date",
    "end_date",
    "hours",
    "days",
    "status",
    "source",
    "training_session_id",
    "enrollment_id",
    "review_comment",
    "reviewed_at",
    "version",
    "created_at",
    "updated_at",
)

F = TrainingForm
# (form, centralised, log kind, weight)
SESSION_FORMS = (
    (F.rotation_class, True, K.centralised_training, 25),
    (F.special_class, True, K.centralised_training, 25),
    (F.refresher, True, K.centralised_training, 12),
    (F.university_course, True, K.centralised_training, 8),
    (F.seminar, True, K.centralised_training, 5),
    (F.lecture, False, K.lecture, 12),
    (F.online_class, False, K.online_course, 8),
    (F.seminar, False, K.seminar, 3),
    (F.study_tour, False, K.study_tour, 2),
)
FORM_LABEL = {
    F.rotation_class: "轮训班",
    F.special_class: "专题培训班",
    F.refresher: "进修班",
    F.university_course: "高校专题研修班",
    F.seminar: "专题研讨班",
    F.lecture: "专题讲座",
    F.online_class: "网络专题班",
    F.study_tour: "外出考察学习",
}


@dataclass(slots=True)
class Session:
    id: str
    kind: int  # index into KINDS of the logs it issues
    form: TrainingForm
    centralised: bool
    title: str
    provider: str | None
    organiser: str
    start: int
    end: int
    days: Decimal
    credit: Decimal
    status: SessionStatus
    close_s: int  # when it was closed (epoch seconds), for closed sessions
    created_ms: int
    cadres: set[int] = field(default_factory=set)
    active: int = 0


# --------------------------------------------------------------------------------------------
# The generator: chunks of rows in foreign-key order
# --------------------------------------------------------------------------------------------


def poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Generator:
    def __init__(
        self, plan: Plan, cipher: IdNumberCipher, taken_hashes: set[bytes] | None = None
    ) -> None:
        self.plan = plan
        self.cal = Calendar(plan.window_start, plan.as_of)
        regions = _anhui_regions()
        self.tree = OrgTree(plan, self.cal, regions)
        self.cadres = make_cadres(plan, self.cal, self.tree, regions, cipher, taken_hashes or set())
        self.profiles = make_profiles(plan.seed)
        self.titles = make_titles(plan.seed)
        self.rng = random.Random(f"{plan.seed}:logs")
        cal = self.cal
        weight = 0.0
        for c in self.cadres.facts:
            weight += c.factor * (c.end - c.start + 1)
        self.rate = plan.study_logs / weight if weight else 0.0
        self.buckets: list[list[Row]] = [[] for _ in range(cal.last + 2)]
        self.emitted = 0  # buckets below this day have been written
        self.counts: dict[str, int] = {}

    # --- sessions --------------------------------------------------------------------------

    def _sessions(self, year: int) -> tuple[list[Session], dict[tuple[int, int], list[Session]]]:
        cal, rng, plan = self.cal, self.rng, self.plan
        lo, hi = cal.year_bounds(year)
        lo = max(lo, cal.window_start)
        hi = min(hi, cal.as_of + 100)
        if hi < lo or plan.sessions == 0:
            return [], {}
        total_days = (cal.as_of + 100) - cal.window_start + 1
        count = max(1, round(plan.sessions * (hi - lo + 1) / total_days))
        units = self.tree.units
        organisers = {
            "province": [u for u in units if u.role in ("root", "prov_dept")],
            "city": [u for u in units if u.role in ("city", "city_dept")],
            "county": [u for u in units if u.role in ("county", "county_dept")],
        }
        forms = list(SESSION_FORMS)
        weights = [f[3] for f in SESSION_FORMS]
        sessions: list[Session] = []
        pools: dict[tuple[int, int], list[Session]] = {}
        serial: dict[str, int] = {}
        for _ in range(count):
            form, centralised, kind, _w = rng.choices(forms, weights=weights)[0]
            r = rng.random()
            level = "province" if r < 0.15 else "city" if r < 0.6 else "county"
            organiser = rng.choice(organisers[level] or organisers["city"] or units)
            start = cal.pick(rng.random(), lo, hi)
            if kind == K.lecture:
                span, credit, days = 1, dec(rng.choice((2, 2.5, 3, 3.5))), Decimal("0.50")
            elif kind == K.online_course:
                span, credit, days = rng.randint(14, 60), dec(rng.randint(10, 30)), Decimal("1.00")
            else:
                k = KINDS.index(kind)
                span, credit, days = rng.choice(self.profiles[k])
                if kind == K.seminar:
                    days = dec(span)
                start -= cal.weekday[start]  # classes start on a Monday
                start = max(start, lo)
            end = start + span - 1
            close_day = end + rng.randint(1, 10)
            if close_day <= cal.as_of:
                status = SessionStatus.closed if rng.random() > 0.01 else SessionStatus.cancelled
            elif start <= cal.as_of:
                status = SessionStatus.running
            else:
                status = SessionStatus.open if rng.random() > 0.1 else SessionStatus.draft
            created_day = min(start - rng.randint(15, 60), cal.as_of)
            created_ms = (cal.midnight[created_day] + rng.randrange(9 * 3600, 17 * 3600)) * 1000
            created_ms = min(created_ms, cal.horizon_s * 1000)
            key = f"{organiser.id}:{form}"
            serial[key] = serial.get(key, 0) + 1
            topic = rng.choice(TOPICS)
            title = f"{organiser.place}{year}年{topic}{FORM_LABEL[form]}（第{serial[key]}期）"
            if level == "county" and not centralised:
                provider = None if rng.random() < 0.5 else "县委党校"
            elif level == "county":
                provider = f"中共{organiser.place}委党校"
            elif level == "city":
                provider = f"中共{organiser.place}委党校" if rng.random() < 0.7 else None
            else:
                provider = rng.choice(PARTY_SCHOOLS)
            close_s = cal.midnight[close_day] + rng.randrange(9 * 3600, 18 * 3600)
            session = Session(
                id=uuid7_hex(created_ms, rng.getrandbits(74)),
                kind=KINDS.index(kind),
                form=form,
                centralised=centralised,
                title=title,
                provider=provider,
                organiser=organiser.id,
                start=start,
                end=end,
                days=days,
                credit=credit,
                status=status,
                close_s=close_s,
                created_ms=created_ms,
            )
            sessions.append(session)
            if status not in (SessionStatus.cancelled, SessionStatus.draft):
                pools.setdefault((session.kind, organiser.city), []).append(session)
        return sessions, pools

    def _session_rows(self, sessions: list[Session]) -> list[Row]:
        rows = []
        rng = self.rng
        for s in sorted(sessions, key=lambda s: s.created_ms):
            n = len(s.cadres)
            capacity = max(20, math.ceil(n * rng.uniform(1.0, 1.5) / 10) * 10)
            created = datetime.fromtimestamp(s.created_ms / 1000, UTC)
            if s.status == SessionStatus.closed:
                updated = datetime.fromtimestamp(s.close_s, UTC)
            else:
                updated = created
            rows.append(
                (
                    s.id,
                    s.title,
                    s.form.value,
                    s.centralised,
                    s.provider,
                    s.organiser,
                    self.cal.dates[s.start],
                    self.cal.dates[s.end],
                    s.days,
                    s.credit,
                    capacity,
                    s.active,
                    s.status.value,
                    1,
                    created,
                    updated,
                )
            )
        return rows

    def _enroll(
        self, c: CadreFacts, ci: int, s: Session, enrollments: list[tuple[int, Row]]
    ) -> None:
        """Enroll cadre `c` in `s`; on a closed session also issue the study log (docs/rules.md rule
        7)."""
        rng, cal = self.rng, self.cal
        s.cadres.add(ci)
        roll_call = rng.random() < (0.85 if c.leading else 0.65)
        created_day = max(s.start - rng.randint(1, 40), cal.window_start - 30)
        created_s = min(
            cal.midnight[created_day] + rng.randrange(8 * 3600, 18 * 3600), cal.horizon_s
        )
        created_ms = created_s * 1000 + rng.randrange(1000)
        created_ms = min(max(created_ms, s.created_ms + 60_000), cal.horizon_s * 1000)
        enrollment_id = uuid7_hex(created_ms, rng.getrandbits(74))
        created = datetime.fromtimestamp(created_ms / 1000, UTC)
        leave = Decimal("0.00")
        score: Decimal | None = None
        updated = created
        log: Row | None = None
        if s.status == SessionStatus.closed:
            r = rng.random()
            credit = s.credit
            if r < 0.015:
                status = EnrollmentStatus.withdrawn
            elif r < 0.04:
                # More leave than a seventh of the credit hours: withdrawn by the closing (退学).
                status = EnrollmentStatus.dropped_out
                leave = dec(math.floor(float(credit) / 7 * 2 + 1 + rng.randrange(8)) / 2)
            else:
                status = EnrollmentStatus.completed
                steps = int(credit * 2 / 7)
                if rng.random() < 0.2 and steps > 0:
                    leave = dec(rng.randint(1, steps) / 2)
                if rng.random() < 0.6:
                    score = Decimal(rng.randint(6000, 9950)) / 100
            updated = datetime.fromtimestamp(s.close_s, UTC)
            if status == EnrollmentStatus.completed:
                hours = credit - leave
                days = (s.days * hours / credit).quantize(CENT, rounding=ROUND_HALF_UP)
                log_ms = s.close_s * 1000 + rng.randrange(1000)
                log_at = datetime.fromtimestamp(log_ms / 1000, UTC)
                log_status = StudyLogStatus.approved
                reviewed, comment = log_at, SESSION_ISSUED_COMMENT
                if rng.random() < 0.02:
                    log_status = StudyLogStatus.voided
                    void_s = min(s.close_s + rng.randrange(86400, 200 * 86400), cal.horizon_s)
                    reviewed, comment = datetime.fromtimestamp(void_s, UTC), VOID_COMMENTS[1]
                log = (
                    uuid7_hex(log_ms, rng.getrandbits(74)),
                    c.id,
                    KINDS[s.kind].value,
                    s.title,
                    s.provider,
                    cal.dates[s.start],
                    cal.dates[s.end],
                    hours,
                    days,
                    log_status.value,
                    StudyLogSource.session.value,
                    s.id,
                    enrollment_id,
                    comment,
                    reviewed,
                    1,
                    log_at,
                    reviewed,
                )
                close_day = (s.close_s + LOCAL_OFFSET_S) // 86400 + EPOCH_ORDINAL - cal.base
                self.buckets[close_day].append(log)
        elif s.status == SessionStatus.running:
            status = EnrollmentStatus.confirmed
            s.active += 1
        else:
            r = rng.random()
            status = (
                EnrollmentStatus.withdrawn
                if r < 0.05
                else EnrollmentStatus.enrolled
                if r < 0.6
                else EnrollmentStatus.confirmed
            )
            if status != EnrollmentStatus.withdrawn:
                s.active += 1
        origin = EnrollmentOrigin.roll_call if roll_call else EnrollmentOrigin.self
        row = (
            enrollment_id,
            s.id,
            c.id,
            origin.value,
            status.value,
            leave,
            score,
            1,
            created,
            updated,
        )
        enrollments.append((created_ms, row))

    def _pick_session(
        self, c: CadreFacts, ci: int, kind: int, pools: dict[tuple[int, int], list[Session]]
    ) -> Session | None:
        rng = self.rng
        own = pools.get((kind, c.city))
        province = pools.get((kind, -1))
        wide = rng.random() < (0.5 if c.leading else 0.2)
        pool = (province or own) if wide else (own or province)
        if not pool:
            return None
        for _ in range(3):
            s = pool[int(rng.random() * len(pool))]
            if c.start <= s.start <= c.enroll_until and ci not in s.cadres:
                return s
        return None

    # --- study logs ------------------------------------------------------------------------

    def _year_logs(
        self, year: int, pools: dict[tuple[int, int], list[Session]]
    ) -> list[tuple[int, Row]]:
        """Every cadre's study logs that start in `year` go to the bucket of their creation day;
        returns the enrollments made on the way."""
        cal = self.cal
        rng = self.rng
        rnd = rng.random
        getrandbits = rng.getrandbits
        choices = rng.choices
        pick = cal.pick
        dates = cal.dates
        midnight = cal.midnight
        weekday = cal.weekday
        buckets = self.buckets
        profiles = self.profiles
        titles = self.titles
        providers = [PROVIDERS[k] for k in KINDS]
        kind_values = [k.value for k in KINDS]
        horizon_s = cal.horizon_s
        as_of = cal.as_of
        ws = cal.window_start
        rate = self.rate
        fromts = datetime.fromtimestamp
        utc = UTC
        kinds_range = range(len(KINDS))
        cw_lead = list(_cumulative(KIND_WEIGHTS_LEADING))
        cw_other = list(_cumulative(KIND_WEIGHTS_OTHER))
        link = [SESSION_LINK.get(k, 0.0) for k in kinds_range]
        approved, pending = StudyLogStatus.approved.value, StudyLogStatus.pending.value
        rejected, voided = StudyLogStatus.rejected.value, StudyLogStatus.voided.value
        manual, imported = StudyLogSource.manual.value, StudyLogSource.import_.value
        lags = (0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 5, 7, 7, 10, 14, 21, 30)
        n_lags = len(lags)
        enrollments: list[tuple[int, Row]] = []
        y_lo, y_hi = cal.year_bounds(year)
        y_lo = max(y_lo, ws)
        y_hi = min(y_hi, as_of)
        for ci, c in enumerate(self.cadres.facts):
            lo = c.start if c.start > y_lo else y_lo
            hi = c.end if c.end < y_hi else y_hi
            if lo > hi:
                continue
            n = poisson(rng, rate * c.factor * (hi - lo + 1))
            if n == 0:
                continue
            cadre_id = c.id
            for k in choices(kinds_range, cum_weights=cw_lead if c.leading else cw_other, k=n):
                if link[k] and rnd() < link[k]:
                    s = self._pick_session(c, ci, k, pools)
                    if s is not None:
                        self._enroll(c, ci, s, enrollments)
                        continue
                is_import = k == ONLINE and rnd() < IMPORTED_ONLINE_SHARE
                profile = profiles[IMPORTED_ONLINE if is_import else k]
                span, hours, days = profile[int(rnd() * PROFILES_PER_KIND)]
                start = pick(rnd(), lo, hi)
                end = start + span - 1
                if end > as_of:  # records only of what has happened
                    start = max(as_of - span + 1, ws)
                    end = as_of
                    if end - start + 1 < span:
                        span = end - start + 1
                        hours = min(hours, Decimal(24 * span))
                        days = min(days, Decimal(span))
                # When it was recorded, and how.
                if is_import:
                    source = imported
                    day = end + 7 - weekday[end]  # the platform's weekly push, on Monday night
                    secs = 2 * 3600 + int(rnd() * 3600)
                else:
                    source = manual
                    day = end + lags[int(rnd() * n_lags)]
                    secs = 8 * 3600 + int(rnd() * 13 * 3600)
                created_s = midnight[day] + secs
                if created_s >= horizon_s:
                    created_s = horizon_s - 1 - int(rnd() * 3600)
                    day = as_of
                ms = created_s * 1000 + int(rnd() * 1000)
                created = fromts(ms / 1000, utc)
                r = rnd()
                if r < P_APPROVED:
                    status = approved
                    comment = None
                    if source == imported or rnd() < 0.4:
                        reviewed: datetime | None = created
                    else:
                        review_s = created_s + 1 + int(rnd() * 10 * 86400)
                        reviewed = fromts(min(review_s, horizon_s), utc)
                elif r < P_PENDING:
                    status, comment, reviewed = pending, None, None
                elif r < P_REJECTED:
                    status = rejected
                    comment = REJECT_COMMENTS[int(rnd() * len(REJECT_COMMENTS))]
                    reviewed = fromts(min(created_s + 1 + int(rnd() * 10 * 86400), horizon_s), utc)
                else:
                    status = voided
                    comment = VOID_COMMENTS[int(rnd() * len(VOID_COMMENTS))]
                    review_s = created_s + int((1 + rnd() * 200) * 86400)
                    reviewed = fromts(min(review_s, horizon_s), utc)
                title_list = titles[k]
                provider_list = providers[k]
                bits = getrandbits(74)
                v7 = (ms << 80) | V7 | ((bits >> 62) << 64) | VARIANT | (bits & MASK62)
                buckets[day].append(
                    (
                        f"{v7:032x}",
                        cadre_id,
                        kind_values[k],
                        title_list[int(rnd() * len(title_list))],
                        provider_list[int(rnd() * len(provider_list))],
                        dates[start],
                        dates[end],
                        hours,
                        days,
                        status,
                        source,
                        None,
                        None,
                        comment,
                        reviewed,
                        1,
                        created,
                        reviewed or created,
                    )
                )
        return enrollments

    def _drain(self, until: int) -> Iterator[Chunk]:
        """Study logs created before day `until`, in id (= creation) order."""
        chunk: list[Row] = []
        size = self.plan.chunk
        key = itemgetter(0)
        for day in range(self.emitted, min(until, len(self.buckets))):
            bucket = self.buckets[day]
            if not bucket:
                continue
            bucket.sort(key=key)
            chunk += bucket
            self.buckets[day] = []
            if len(chunk) >= size:
                yield "study_log", chunk
                chunk = []
        if chunk:
            yield "study_log", chunk
        self.emitted = max(self.emitted, until)

    def chunks(self) -> Iterator[Chunk]:
        size = self.plan.chunk
        yield "org_unit", self.tree.rows()
        rows = self.cadres.rows
        for i in range(0, len(rows), size):
            yield "cadre", rows[i : i + size]
        self.cadres.rows = []
        cal = self.cal
        first = cal.dates[cal.window_start].year
        last = cal.dates[cal.as_of].year
        for year in range(first, last + 2):
            sessions, pools = self._sessions(year)
            enrollments = self._year_logs(year, pools) if year <= last else []
            session_rows = self._session_rows(sessions)
            for i in range(0, len(session_rows), size):
                yield "training_session", session_rows[i : i + size]
            enrollments.sort(key=itemgetter(0))
            for i in range(0, len(enrollments), size):
                yield "enrollment", [row for _ms, row in enrollments[i : i + size]]
            until = cal.year_bounds(year + 1)[0] if year <= last else len(self.buckets)
            yield from self._drain(until)


def _cumulative(weights: Sequence[float]) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

TABLE_COLUMNS = {
    "org_unit": ORG_UNIT_COLUMNS,
    "cadre": CADRE_COLUMNS,
    "training_session": SESSION_COLUMNS,
    "enrollment": ENROLLMENT_COLUMNS,
    "study_log": STUDY_LOG_COLUMNS,
}


# The trigger of migration 0013 that writes the audit trail and the change feed for the rows a
# COPY inserts. Benchmark fixtures are not changes anyone made: the load disables it on the
# tables it fills, inside its own transaction, and enables it again before the commit (so it is
# back on even if the load fails: the ALTER TABLE rolls back with it).
AUDIT_TRIGGER = "audit_trail_insert"


class Refused(Exception):
    """The target database is not fit for loading; nothing was written."""


def asyncpg_dsn(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    return f"postgresql://{rest}" if scheme.startswith(("postgresql", "postgres")) else url


async def check_target(conn: Any, force_append: bool) -> None:
    try:
        revisions = {
            r["version_num"] for r in await conn.fetch("SELECT version_num FROM alembic_version")
        }
    except asyncpg.UndefinedTableError as exc:
        raise Refused(
            "the database has no alembic_version table: migrate it first "
            "(DATABASE_URL=... python -m app.cli migrate)"
        ) from exc
    heads = set(head_revisions())
    if revisions != heads:
        raise Refused(
            f"the schema is at {sorted(revisions) or 'nothing'}, not at head {sorted(heads)}: "
            "migrate it first (DATABASE_URL=... python -m app.cli migrate)"
        )
    for table, columns in TABLE_COLUMNS.items():
        rows = await conn.fetch(
            "SELECT column_name, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = $1",
            table,
        )
        present = {r["column_name"] for r in rows}
        required = {
            r["column_name"]
            for r in rows
            if r["is_nullable"] == "NO" and r["column_default"] is None
        }
        if unknown := set(columns) - present:
            raise Refused(f"{table} has no column(s) {sorted(unknown)}: update bench/generate.py")
        if missing := required - set(columns):
            raise Refused(f"{table} needs value(s) for {sorted(missing)}: update bench/generate.py")
    with_trigger = {
        r["table_name"]
        for r in await conn.fetch(
            "SELECT c.relname AS table_name FROM pg_trigger AS t "
            "JOIN pg_class AS c ON c.oid = t.tgrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND t.tgname = $1 "
            "AND t.tgenabled <> 'D'",
            AUDIT_TRIGGER,
        )
    }
    if missing_triggers := set(TABLE_COLUMNS) - with_trigger:
        raise Refused(
            f"{sorted(missing_triggers)} have no enabled trigger {AUDIT_TRIGGER}: "
            "update bench/generate.py"
        )
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM cadre)") and not force_append:
        raise Refused("the cadre table is not empty (pass --force-append to add a second province)")


@dataclass
class Stats:
    rows: dict[str, int] = field(default_factory=dict)
    copy_s: dict[str, float] = field(default_factory=dict)
    generate_s: float = 0.0
    # (rows, COPY seconds) of each study_log chunk, in load order: the rate as the table grows.
    log_chunks: list[tuple[int, float]] = field(default_factory=list)

    def add(self, table: str, rows: int, seconds: float) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows
        self.copy_s[table] = self.copy_s.get(table, 0.0) + seconds
        if table == "study_log":
            self.log_chunks.append((rows, seconds))

    def log_rate(self, first: int, last: int) -> float:
        """study_log rows/s over chunks[first:last] (COPY time only)."""
        part = self.log_chunks[first:last]
        seconds = sum(s for _, s in part)
        return sum(r for r, _ in part) / seconds if seconds else 0.0

    def log_tenths(self) -> tuple[float, float]:
        """study_log rows/s over the first and the last tenth of its chunks (at least one each):
        a load that slows as the table grows shows it here."""
        n = len(self.log_chunks)
        tenth = max(n // 10, 1)
        return self.log_rate(0, tenth), self.log_rate(n - tenth, n)


def _timed_next(chunks: Iterator[Chunk]) -> tuple[Chunk | None, float]:
    t = time.perf_counter()
    chunk = next(chunks, None)
    return chunk, time.perf_counter() - t


async def load(conn: Any, chunks: Iterator[Chunk], total_logs: int, started: float) -> Stats:
    """COPY every chunk, building the next one in a worker thread meanwhile."""
    stats = Stats()
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate") as pool:
        pending = loop.run_in_executor(pool, _timed_next, chunks)
        while True:
            chunk, gen_s = await pending
            stats.generate_s += gen_s
            if chunk is None:
                break
            pending = loop.run_in_executor(pool, _timed_next, chunks)
            table, rows = chunk
            t = time.perf_counter()
            await conn.copy_records_to_table(table, records=rows, columns=TABLE_COLUMNS[table])
            copy_s = time.perf_counter() - t
            stats.add(table, len(rows), copy_s)
            elapsed = time.perf_counter() - started
            if table in ("org_unit", "cadre"):
                print(f"  {elapsed:7.1f}s  {table} {stats.rows[table]:,}", flush=True)
            elif table == "study_log":
                # Every chunk's own rate, so a load that slows as the table grows shows it.
                logs = stats.rows[table]
                print(
                    f"  {elapsed:7.1f}s  study_log {logs:,} ({100 * logs / total_logs:.0f}%): "
                    f"chunk {len(stats.log_chunks)} {len(rows):,} rows in {copy_s:.2f}s, "
                    f"{len(rows) / copy_s if copy_s else 0:,.0f} logs/s; "
                    f"training_session {stats.rows.get('training_session', 0):,}, "
                    f"enrollment {stats.rows.get('enrollment', 0):,}",
                    flush=True,
                )
    return stats


async def _audit_trigger(conn: Any, how: str) -> None:
    """DISABLE or ENABLE the audit trigger of every loaded table, in the caller's transaction."""
    for table in TABLE_COLUMNS:
        await conn.execute(f"ALTER TABLE {table} {how} TRIGGER {AUDIT_TRIGGER}")


async def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    conn = await asyncpg.connect(
        asyncpg_dsn(args.database_url),
        server_settings={"application_name": "bench.generate", "timezone": "UTC"},
    )
    try:
        await check_target(conn, args.force_append)
        taken: set[bytes] = set()
        tag = ""
        if args.force_append and await conn.fetchval("SELECT EXISTS (SELECT 1 FROM cadre)"):
            taken = {r[0] for r in await conn.fetch("SELECT id_number_hash FROM cadre")}
            tag = f"B{args.seed}T{int(time.time()) % 10**8}-"
        plan = Plan(args.scale, args.seed, args.window_start, args.as_of, args.chunk_size, tag)
        print(
            f"generating: scale {plan.scale}, seed {plan.seed}, "
            f"{plan.window_start}..{plan.as_of} (as of), ~{plan.org_units:,} org units, "
            f"{plan.cadres:,} cadres, ~{plan.study_logs:,} study logs, "
            f"~{plan.sessions:,} training sessions",
            flush=True,
        )
        cipher = IdNumberCipher(get_settings().data_key_bytes)
        gen = Generator(plan, cipher, taken)
        print(f"  {time.perf_counter() - started:7.1f}s  org tree and cadres built", flush=True)
        gc.freeze()
        gc.disable()
        try:
            await conn.execute("SET statement_timeout = 0")
            async with conn.transaction():
                await _audit_trigger(conn, "DISABLE")
                stats = await load(conn, gen.chunks(), max(plan.study_logs, 1), started)
                await _audit_trigger(conn, "ENABLE")
                commit_t = time.perf_counter()
        finally:
            gc.enable()
        loaded = time.perf_counter()
        print(f"  {loaded - started:7.1f}s  committed ({loaded - commit_t:.1f}s)", flush=True)
        # cadre_year_kind too: the sums triggers filled it (every chunk's upsert updated rows,
        # so it is full of dead tuples), and the reports read it by index-only scans, which
        # need its visibility map. Left to autovacuum, the first benchmark met a table with no
        # statistics and no all-visible page.
        tables = ", ".join([*TABLE_COLUMNS, "cadre_year_kind"])
        if args.no_vacuum:
            await conn.execute(f"ANALYZE {tables}")
        else:
            await conn.execute("SET maintenance_work_mem = '1GB'")
            await conn.execute(f"VACUUM (ANALYZE) {tables}")
        finished = time.perf_counter()
        what = "ANALYZE" if args.no_vacuum else "VACUUM (ANALYZE)"
        print(f"  {finished - started:7.1f}s  {what} done ({finished - loaded:.1f}s)", flush=True)
    finally:
        await conn.close()
    total = sum(stats.rows.values())
    print("\nsummary")
    print(f"  {'table':<17} {'rows':>11} {'copy s':>8} {'rows/s':>10}")
    for table in TABLE_COLUMNS:
        rows, secs = stats.rows.get(table, 0), stats.copy_s.get(table, 0.0)
        print(f"  {table:<17} {rows:>11,} {secs:>8.1f} {rows / secs if secs else 0:>10,.0f}")
    load_s = loaded - started
    print(
        f"  {'all':<17} {total:>11,} {load_s:>8.1f} {total / load_s:>10,.0f}"
        f"   (load wall time, generation overlapped: {stats.generate_s:.1f}s of it)"
    )
    if stats.log_chunks:
        start, end = stats.log_tenths()
        print(
            f"  study_log COPY rate: first tenth of the chunks {start:,.0f} logs/s, "
            f"last tenth {end:,.0f} logs/s (end/start {end / start if start else 0:.2f})"
        )
    print(f"  elapsed {finished - started:.1f}s including {what}")
    return 0


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date: {value!r}") from exc


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.generate",
        description="Load a synthetic province (org tree, cadres, study logs, sessions) with COPY.",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        required="DATABASE_URL" not in os.environ,
        help="PostgreSQL URL of a database migrated to head (default: $DATABASE_URL)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 200k cadres, 10M logs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--years", type=int, default=10, help="calendar years of history")
    parser.add_argument("--end-year", type=int, default=2026, help="last calendar year")
    parser.add_argument(
        "--as-of",
        type=_date,
        default=None,
        help="last day with records (default: yesterday in Asia/Shanghai, within --end-year); "
        "give it for reproducible data",
    )
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK, help="rows per COPY")
    parser.add_argument(
        "--force-append",
        action="store_true",
        help="load even if cadres exist (adds a second province with its own codes and HR ids)",
    )
    parser.add_argument(
        "--no-vacuum", action="store_true", help="only ANALYZE afterwards, no VACUUM"
    )
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 100:
        parser.error("--scale must be in (0, 100]")
    if not 1 <= args.years <= 50:
        parser.error("--years must be in [1, 50]")
    if args.chunk_size < 1_000:
        parser.error("--chunk-size must be at least 1000")
    args.window_start = date(args.end_year - args.years + 1, 1, 1)
    year_end = date(args.end_year, 12, 31)
    if args.as_of is None:
        yesterday = (datetime.now(UTC) + timedelta(hours=8)).date() - timedelta(days=1)
        args.as_of = min(yesterday, year_end)
    if not args.window_start + timedelta(days=90) <= args.as_of <= year_end:
        parser.error(
            f"--as-of must lie between {args.window_start + timedelta(days=90)} and {year_end}"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(run(args))
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
