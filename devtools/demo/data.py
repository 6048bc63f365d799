"""A small, realistic demo data set modelled on Chuzhou (滁州市, Anhui), for an empty database.

`seed_demo` builds the whole set in memory from `random.Random(2007)` and writes it with a handful
of multi-row INSERTs inside the caller's transaction (it never commits). The calendar is anchored
on `today` (Asia/Shanghai by default): five past years of history, one session running, a few open
for enrollment and one draft, so every status and the grace rule show whenever the demo is loaded.

Resident ID numbers carry the unit's county code. The checker (python-stdnum) validates the region
code against the year of birth, and most of Chuzhou's codes date from 1992-1994, so cadres born
before their county's code existed carry the predecessor code of the same place (滁县地区 3423xx),
as real numbers of that generation do.
"""

import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import ric

from app.assessment.models import Assessment
from app.cadre.models import Cadre
from app.clock import LOCAL_TZ, local_today
from app.db import Base
from app.enrollment.models import Enrollment
from app.enums import (
    LEADING_RANKS,
    AssessmentRating,
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
from app.ids import new_id
from app.org_unit.models import OrgUnit
from app.org_unit.tree import path_of
from app.personal_data import cipher
from app.study_log.models import StudyLog
from app.training_session import service as session_service
from app.training_session.models import TrainingSession

SEED = 2007
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

Row = dict[str, Any]

# --------------------------------------------------------------------------------------------
# The org tree
# --------------------------------------------------------------------------------------------

CITY_CODE = "341100"
CITY_NAME = "滁州市"
CITY_DEPARTMENTS = [
    ("zzb", "滁州市委组织部"),
    ("dx", "中共滁州市委党校"),
    ("xcb", "滁州市委宣传部"),
    ("fgw", "滁州市发展和改革委员会"),
    ("czj", "滁州市财政局"),
    ("jtj", "滁州市教育体育局"),
]
# (code, name, kind, children as (short kind, name)); "d" department, "t" township / sub-district.
COUNTIES: list[tuple[str, str, OrgUnitKind, list[tuple[str, str]]]] = [
    (
        "341102",
        "琅琊区",
        OrgUnitKind.district,
        [
            ("zzb", "琅琊区委组织部"),
            ("d", "琅琊区教育体育局"),
            ("jd", "西涧街道"),
            ("jd", "琅琊街道"),
        ],
    ),
    (
        "341103",
        "南谯区",
        OrgUnitKind.district,
        [
            ("zzb", "南谯区委组织部"),
            ("d", "南谯区发展和改革委员会"),
            ("t", "乌衣镇"),
            ("t", "章广镇"),
        ],
    ),
    (
        "341122",
        "来安县",
        OrgUnitKind.county,
        [("zzb", "来安县委组织部"), ("d", "来安县财政局"), ("t", "汊河镇"), ("t", "半塔镇")],
    ),
    (
        "341124",
        "全椒县",
        OrgUnitKind.county,
        [("zzb", "全椒县委组织部"), ("d", "全椒县教育体育局"), ("t", "襄河镇")],
    ),
    (
        "341125",
        "定远县",
        OrgUnitKind.county,
        [("zzb", "定远县委组织部"), ("dx", "中共定远县委党校"), ("t", "炉桥镇"), ("t", "藕塘镇")],
    ),
    (
        "341126",
        "凤阳县",
        OrgUnitKind.county,
        [
            ("zzb", "凤阳县委组织部"),
            ("d", "凤阳县发展和改革委员会"),
            ("t", "小溪河镇"),
            ("t", "府城镇"),
        ],
    ),
    (
        "341181",
        "天长市",
        OrgUnitKind.county,
        [("zzb", "天长市委组织部"), ("d", "天长市财政局"), ("t", "秦栏镇"), ("t", "铜城镇")],
    ),
    (
        "341182",
        "明光市",
        OrgUnitKind.county,
        [("zzb", "明光市委组织部"), ("d", "明光市委宣传部"), ("t", "女山湖镇")],
    ),
]
# Region codes to try for a birth year, current code first, then its predecessors.
ID_REGION_CODES = {
    "341100": ["341100", "342301", "342300"],
    "341102": ["341102", "342301", "342323"],
    "341103": ["341103", "342323", "342301"],
    "341122": ["341122", "342322"],
    "341124": ["341124", "342324"],
    "341125": ["341125", "342325"],
    "341126": ["341126", "342326"],
    "341181": ["341181", "341121", "342321"],
    "341182": ["341182", "341127", "342327"],
}


@dataclass
class _Unit:
    id: uuid.UUID
    code: str
    name: str
    kind: OrgUnitKind
    role: str  # city, city_dept, county, county_dept, township
    short: str  # zzb, dx, d, t, jd ... (what kind of department)
    region: str  # county code the unit's people are registered in
    county: str  # the county (or city) name, for titles
    parent: "_Unit | None"
    path: str = ""
    depth: int = 0


def _build_units() -> list[_Unit]:
    units: list[_Unit] = []

    def add(
        code: str,
        name: str,
        kind: OrgUnitKind,
        role: str,
        short: str,
        region: str,
        county: str,
        parent: _Unit | None,
    ) -> _Unit:
        unit_id = new_id()
        unit = _Unit(unit_id, code, name, kind, role, short, region, county, parent)
        unit.path = path_of(parent.path if parent else None, unit_id)
        unit.depth = parent.depth + 1 if parent else 0
        units.append(unit)
        return unit

    city = add(CITY_CODE, CITY_NAME, OrgUnitKind.city, "city", "city", CITY_CODE, CITY_NAME, None)
    for n, (short, name) in enumerate(CITY_DEPARTMENTS, start=1):
        add(
            f"{CITY_CODE}-{n:02d}",
            name,
            OrgUnitKind.department,
            "city_dept",
            short,
            CITY_CODE,
            CITY_NAME,
            city,
        )
    for code, name, kind, children in COUNTIES:
        county = add(code, name, kind, "county", "county", code, name, city)
        for n, (short, child) in enumerate(children, start=1):
            township = short in {"t", "jd"}
            add(
                f"{code}-{n:02d}",
                child,
                OrgUnitKind.township if township else OrgUnitKind.department,
                "township" if township else "county_dept",
                short,
                code,
                name,
                county,
            )
    return units


# --------------------------------------------------------------------------------------------
# Cadres
# --------------------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严武戴孔汤储"
)
# The most common surnames come first; weight them accordingly.
SURNAME_WEIGHTS = [max(1.0, 12.0 - i * 0.25) for i in range(len(SURNAMES))]
GIVEN_MALE = (
    "伟强军磊勇杰涛斌峰超明刚平辉鹏华飞波宇浩凯健俊林东文志建国海春永祥龙晨阳卫兵亮成振德忠荣"
)
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲婷雪琳洁颖慧倩萍红梅莉蕾晶欣佳悦璐雯丹瑶薇"
FIRST_MALE = "建志国海晓永振俊文德家明子宏立学"
FIRST_FEMALE = "晓秀玉春丽雅文思佳雨婉欣美静"

R = Rank
# Staffing templates: (position, rank, how many (min, max)). A position may carry "{d}", filled
# with the department's short title (部/局/委...).
_HEAD_TITLE = {
    "zzb": "部长",
    "xcb": "部长",
    "dx": "校长",
    "fgw": "主任",
    "czj": "局长",
    "jtj": "局长",
}
Template = list[tuple[str, Rank, int, int]]
TEMPLATES: dict[str, Template] = {
    "city": [("市委副书记", R.department_bureau, 1, 1), ("副市长", R.department_bureau, 1, 1)],
    "city_dept:zzb": [
        ("市委常委、组织部部长", R.department_bureau, 1, 1),
        ("常务副部长", R.county_division, 1, 1),
        ("副部长", R.county_division, 1, 1),
        ("四级调研员", R.county_division, 0, 1),
        ("干部教育科科长", R.township_section, 1, 1),
        ("组织科科长", R.township_section, 1, 1),
        ("一级主任科员", R.township_section, 1, 2),
        ("科员", R.section_member, 2, 4),
    ],
    "city_dept:dx": [
        ("常务副校长", R.county_division, 1, 1),
        ("副校长", R.county_division, 1, 1),
        ("教研室主任", R.township_section, 2, 3),
        ("讲师", R.section_member, 2, 3),
        ("科员", R.section_member, 1, 1),
    ],
    "city_dept": [
        ("{head}", R.county_division, 1, 1),
        ("副{head}", R.county_division, 1, 2),
        ("科长", R.township_section, 2, 3),
        ("一级主任科员", R.township_section, 0, 1),
        ("科员", R.section_member, 2, 5),
    ],
    "county": [
        ("{party}委书记", R.county_division, 1, 1),
        ("{gov}长", R.county_division, 1, 1),
        ("副{gov}长", R.county_division, 1, 1),
    ],
    "county_dept:zzb": [
        ("{party}委常委、组织部部长", R.county_division, 1, 1),
        ("常务副部长", R.township_section, 1, 1),
        ("副部长", R.township_section, 1, 1),
        ("干部股股长", R.section_member, 1, 1),
        ("科员", R.section_member, 2, 3),
    ],
    "county_dept:dx": [
        ("常务副校长", R.township_section, 1, 1),
        ("副校长", R.township_section, 1, 1),
        ("讲师", R.section_member, 2, 3),
    ],
    "county_dept": [
        ("局长", R.township_section, 1, 1),
        ("副局长", R.township_section, 1, 2),
        ("四级主任科员", R.township_section, 0, 1),
        ("股长", R.section_member, 1, 2),
        ("科员", R.section_member, 1, 3),
    ],
    "township:t": [
        ("镇党委书记", R.township_section, 1, 1),
        ("镇长", R.township_section, 1, 1),
        ("镇党委副书记", R.township_section, 1, 1),
        ("副镇长", R.township_section, 1, 2),
        ("镇党委组织委员", R.township_section, 0, 1),
        ("一级科员", R.section_member, 1, 2),
        ("科员", R.section_member, 1, 3),
    ],
    "township:jd": [
        ("街道党工委书记", R.township_section, 1, 1),
        ("街道办事处主任", R.township_section, 1, 1),
        ("街道办事处副主任", R.township_section, 1, 2),
        ("一级科员", R.section_member, 1, 2),
        ("科员", R.section_member, 1, 2),
    ],
}
# Years of birth by rank (the brief's range is 1965-1998).
BIRTH_YEARS = {
    R.department_bureau: (1965, 1974),
    R.county_division: (1966, 1985),
    R.township_section: (1970, 1992),
    R.section_member: (1980, 1998),
}
MALE_SHARE = {
    R.department_bureau: 0.85,
    R.county_division: 0.8,
    R.township_section: 0.65,
    R.section_member: 0.5,
}
HEAD_WORDS = ("书记", "部长", "局长", "镇长", "主任", "校长", "县长", "区长", "市长")
# Grades held without a leading post (职级): 四级调研员, 一级主任科员, 科员, 讲师 ...
GRADE_WORDS = ("调研员", "巡视员", "主任科员", "科员", "讲师")


@dataclass
class _Cadre:
    id: uuid.UUID
    hr_id: str
    name: str
    id_number: str
    gender: Gender
    birth_date: date
    unit: _Unit
    rank: Rank
    position: str
    post_type: PostType = PostType.non_leading
    promoted_on: date | None = None
    status: CadreStatus = CadreStatus.active
    left_on: date | None = None  # inactive cadres: no records after this date
    engagement: float = 1.0
    sessions: int = 0

    @property
    def leading(self) -> bool:
        return self.rank in LEADING_RANKS

    @property
    def head(self) -> bool:
        """Sits on a theory-study central group (中心组): leaders and heads of units."""
        return self.leading or any(w in self.position for w in HEAD_WORDS)


def _rand_date(rng: random.Random, lo: date, hi: date) -> date:
    if hi <= lo:
        return lo
    return lo + timedelta(days=rng.randint(0, (hi - lo).days))


def _name(rng: random.Random, gender: Gender) -> str:
    surname = rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]
    male = gender is Gender.male
    last = rng.choice(GIVEN_MALE if male else GIVEN_FEMALE)
    if rng.random() < 0.25:
        return surname + last
    return surname + rng.choice(FIRST_MALE if male else FIRST_FEMALE) + last


def _id_number(rng: random.Random, region: str, born: date, gender: Gender, used: set[str]) -> str:
    for prefix in ID_REGION_CODES[region]:
        for _ in range(50):
            seq = rng.randint(0, 499) * 2 + (1 if gender is Gender.male else 0)
            body = f"{prefix}{born:%Y%m%d}{seq:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if number in used:
                continue
            if not ric.is_valid(number):
                break  # this region code did not exist in that year: try its predecessor
            used.add(number)
            return number
    raise ValueError(f"no valid resident ID number for region {region}, born {born}")


def _post_type(position: str, rank: Rank) -> PostType:
    if rank is R.section_member or any(w in position for w in GRADE_WORDS):
        return PostType.non_leading
    return PostType.leading


def _positions(rng: random.Random, unit: _Unit) -> list[tuple[str, Rank]]:
    """The unit's staff: (position, rank) pairs drawn from its template."""
    template = TEMPLATES.get(f"{unit.role}:{unit.short}") or TEMPLATES[unit.role]
    suffix = unit.county[-1]  # 区 / 县 / 市: 区委书记, 县长, 市委常委 ...
    head = _HEAD_TITLE.get(unit.short, "局长")
    out: list[tuple[str, Rank]] = []
    for position, rank, lo, hi in template:
        text = position.format(head=head, party=suffix, gov=suffix)
        out.extend((text, rank) for _ in range(rng.randint(lo, hi)))
    return out


def _build_cadres(rng: random.Random, units: list[_Unit], today: date) -> list[_Cadre]:
    cadres: list[_Cadre] = []
    used: set[str] = set()
    for unit in units:
        for position, rank in _positions(rng, unit):
            gender = Gender.male if rng.random() < MALE_SHARE[rank] else Gender.female
            lo, hi = BIRTH_YEARS[rank]
            born = _rand_date(rng, date(lo, 1, 1), date(hi, 12, 28))
            serial = len(cadres) + 1
            cadre = _Cadre(
                id=uuid.UUID(int=0),
                hr_id=f"HR{CITY_CODE}-{serial:06d}",
                name=_name(rng, gender),
                id_number=_id_number(rng, unit.region, born, gender, used),
                gender=gender,
                birth_date=born,
                unit=unit,
                rank=rank,
                position=position,
                post_type=_post_type(position, rank),
                engagement=rng.choices([0.6, 1.0, 1.5], weights=[35, 40, 25])[0],
            )
            # Promotion to the current rank: leaders and most section-level cadres have one;
            # only a promotion into a leading post is on record (rule 4: 职级 alone is none).
            if rank is not R.section_member and rng.random() < (0.95 if cadre.leading else 0.6):
                earliest = max(date(born.year + 28, 1, 1), today - timedelta(days=9 * 365))
                promoted_on = _rand_date(rng, earliest, today - timedelta(days=400))
                if cadre.post_type is PostType.leading:
                    cadre.promoted_on = promoted_on
            cadres.append(cadre)
    # A few recent promotions into leading posts (within the last year): the grace rule (N2).
    county_division = [
        c for c in cadres if c.rank is R.county_division and c.post_type is PostType.leading
    ]
    for cadre in rng.sample(county_division, 6):
        cadre.promoted_on = today - timedelta(days=rng.randint(30, 330))
    # A few cadres have left (retired or transferred out of the city).
    for cadre in rng.sample([c for c in cadres if not c.head], 8):
        cadre.status = CadreStatus.inactive
        cadre.left_on = today - timedelta(days=rng.randint(60, 700))
    return cadres


# --------------------------------------------------------------------------------------------
# Training sessions and enrollments
# --------------------------------------------------------------------------------------------

PARTY_SCHOOL = "中共滁州市委党校"
Audience = Callable[[_Cadre], bool]


def _young(c: _Cadre) -> bool:
    return not c.leading and c.birth_date.year >= 1985


def _secretary(c: _Cadre) -> bool:
    return c.unit.role == "township" and "书记" in c.position


def _org_system(c: _Cadre) -> bool:
    return c.unit.short == "zzb"


def _leaders(c: _Cadre) -> bool:
    return c.leading


def _section_level(c: _Cadre) -> bool:
    return c.rank is R.township_section


def _leaders_wide(c: _Cadre) -> bool:
    return c.leading or (c.rank is R.township_section and c.head)


def _everyone(c: _Cadre) -> bool:
    return True


def _county(region: str) -> Audience:
    return lambda c: c.unit.region == region and not c.leading


@dataclass
class _Plan:
    title: str  # "{y}" is the start year
    form: TrainingForm
    centralised: bool
    start: date
    calendar_days: int
    days: int
    credit_hours: int
    capacity: int
    audience: Audience
    share: float  # share of the eligible cadres that attend
    provider: str = PARTY_SCHOOL
    organiser: str = "滁州市委组织部"
    status: SessionStatus | None = None  # None: derived from the dates


@dataclass
class _Session:
    id: uuid.UUID
    plan: _Plan
    title: str
    end: date
    status: SessionStatus
    closed_on: date | None
    enrolled: int = 0


def _plans(today: date) -> list[_Plan]:
    y0 = today.year
    sf, rc, ol = TrainingForm.special_class, TrainingForm.rotation_class, TrainingForm.online_class

    def d(offset: int, month: int, day: int) -> date:
        return date(y0 + offset, month, day)

    refresher = "{y}年春季学期县处级干部进修班"
    # fmt: off
    plans = [
        # five years ago
        _Plan(refresher, TrainingForm.refresher, True, d(-5, 3, 8), 26, 20, 140, 60, _leaders, 0.3),
        _Plan("{y}年乡科级干部党史学习教育专题培训班", sf, True, d(-5, 5, 10), 5, 5, 35, 80,
              _section_level, 0.35),
        # four years ago
        _Plan(refresher, TrainingForm.refresher, True, d(-4, 3, 7), 26, 20, 140, 60, _leaders, 0.3),
        _Plan("{y}年全市县处级领导干部推动高质量发展专题研讨班", TrainingForm.seminar, True,
              d(-4, 8, 22), 3, 3, 21, 60, _leaders, 0.4),
        _Plan("{y}年干部学习贯彻党的二十大精神网络专题班", ol, False, d(-4, 11, 1), 61, 5, 30,
              120, _everyone, 0.35, provider="中国干部网络学院"),
        # three years ago
        _Plan(refresher, TrainingForm.refresher, True, d(-3, 3, 6), 26, 20, 140, 60, _leaders, 0.3),
        _Plan("{y}年乡科级干部学习贯彻党的二十大精神专题培训班", sf, True, d(-3, 4, 17), 5, 5, 35,
              100, _section_level, 0.4),
        _Plan("{y}年县处级干部赴浙江大学高质量发展专题研修班", TrainingForm.university_course, True,
              d(-3, 7, 10), 6, 6, 42, 40, _leaders, 0.35, provider="浙江大学继续教育学院"),
        _Plan("{y}年全市乡村振兴工作赴浙江安吉考察学习", TrainingForm.study_tour, False,
              d(-3, 9, 18), 4, 4, 24, 40, _section_level, 0.2, provider="浙江省湖州市安吉县"),
        _Plan("{y}年度科级干部冬训班", rc, True, d(-3, 12, 27), 10, 8, 56, 80, _section_level, 0.3),
        # two years ago
        _Plan(refresher, TrainingForm.refresher, True, d(-2, 3, 4), 26, 20, 140, 60, _leaders, 0.3),
        _Plan("{y}年乡科级干部党纪学习教育专题培训班", sf, True, d(-2, 5, 20), 5, 5, 35, 100,
              _section_level, 0.4),
        _Plan("{y}年定远县乡镇干部乡村振兴专题培训班", sf, True, d(-2, 6, 17), 4, 4, 28, 60,
              _county("341125"), 0.7, provider="中共定远县委党校", organiser="定远县委组织部"),
        _Plan("{y}年领导干部赴井冈山理想信念教育专题班", sf, True, d(-2, 9, 9), 6, 6, 42, 50,
              _leaders, 0.3, provider="中国井冈山干部学院"),
        _Plan("{y}年市委理论学习中心组（扩大）专题讲座", TrainingForm.lecture, False,
              d(-2, 10, 15), 1, 1, 3, 120, _leaders_wide, 0.6),
        # last year
        _Plan(refresher, TrainingForm.refresher, True, d(-1, 3, 3), 26, 20, 140, 60, _leaders, 0.3),
        _Plan("{y}年乡科级干部学习贯彻党的二十届三中全会精神专题培训班", sf, True, d(-1, 4, 14),
              5, 5, 35, 100, _section_level, 0.4),
        _Plan("{y}年凤阳县基层干部“小岗精神”专题培训班", sf, True, d(-1, 7, 7), 3, 3, 21, 60,
              _county("341126"), 0.7, provider="中共凤阳县委党校（小岗干部学院）",
              organiser="凤阳县委组织部"),
        _Plan("{y}年全市年轻干部培训班", rc, True, d(-1, 9, 8), 47, 35, 245, 50, _young, 0.3),
        _Plan("{y}年度领导干部网络专题班：学习贯彻党的二十届四中全会精神", ol, False,
              d(-1, 11, 3), 58, 5, 30, 120, _leaders_wide, 0.5, provider="安徽干部教育在线"),
        _Plan("{y}年度乡镇党委书记轮训班", rc, True, d(-1, 12, 29), 7, 5, 35, 40, _secretary, 0.8),
        # this year
        _Plan(refresher, TrainingForm.refresher, True, d(0, 3, 9), 26, 20, 140, 60, _leaders, 0.3),
        _Plan("{y}年乡科级干部能力提升专题培训班", sf, True, d(0, 5, 11), 5, 5, 35, 100,
              _section_level, 0.4),
        # anchored on today: one running, three open, one draft
        _Plan("{y}年度科级干部进修班（第二期）", rc, True, today - timedelta(days=4), 15, 11, 77,
              60, _section_level, 0.3, status=SessionStatus.running),
        _Plan("{y}年度干部网络专题班：推进中国式现代化", ol, False, today + timedelta(days=5), 40,
              5, 30, 120, _everyone, 0.2, provider="中国干部网络学院", status=SessionStatus.open),
        _Plan("{y}年全市组织系统干部业务能力提升培训班", sf, True, today + timedelta(days=12), 3, 3,
              21, 60, _org_system, 0.4, status=SessionStatus.open),
        _Plan("{y}年全市乡镇党委书记轮训班", rc, True, today + timedelta(days=45), 5, 5, 35, 40,
              _secretary, 0.5, status=SessionStatus.open),
        _Plan(refresher, TrainingForm.refresher, True, date(y0 + 1, 3, 9), 26, 20, 140, 60,
              _leaders, 0.0, status=SessionStatus.draft),
    ]
    # fmt: on
    return plans


def _session_status(plan: _Plan, end: date, today: date) -> SessionStatus:
    if plan.status is not None:
        return plan.status
    if end <= today - timedelta(days=2):
        return SessionStatus.closed
    return SessionStatus.open if plan.start > today else SessionStatus.running


def _log_kind(form: TrainingForm, centralised: bool) -> StudyLogKind:
    if centralised:
        return StudyLogKind.centralised_training
    return {
        TrainingForm.online_class: StudyLogKind.online_course,
        TrainingForm.lecture: StudyLogKind.lecture,
        TrainingForm.seminar: StudyLogKind.seminar,
        TrainingForm.study_tour: StudyLogKind.study_tour,
    }.get(form, StudyLogKind.centralised_training)


@dataclass
class _Log:
    cadre: _Cadre
    kind: StudyLogKind
    title: str
    provider: str | None
    start: date
    end: date
    hours: Decimal
    days: Decimal = ZERO
    status: StudyLogStatus = StudyLogStatus.approved
    source: StudyLogSource = StudyLogSource.manual
    session_id: uuid.UUID | None = None
    enrollment_id: uuid.UUID | None = None
    reviewed_on: date | None = None
    review_comment: str | None = None
    note: str | None = None


def _q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _half_hours(rng: random.Random, lo: float, hi: float) -> Decimal:
    return _q(Decimal(rng.randint(int(lo * 2), int(hi * 2))) / 2)


def _reviewed_at(rng: random.Random, day: date) -> datetime:
    moment = datetime.combine(day, time(rng.randint(9, 17), rng.randint(0, 59)), LOCAL_TZ)
    return moment.astimezone(UTC)


def _build_sessions(
    rng: random.Random,
    units_by_name: dict[str, _Unit],
    cadres: list[_Cadre],
    today: date,
) -> tuple[list[Row], list[Row], list[_Log]]:
    session_rows: list[Row] = []
    enrollment_rows: list[Row] = []
    logs: list[_Log] = []
    for plan in _plans(today):
        end = plan.start + timedelta(days=plan.calendar_days - 1)
        status = _session_status(plan, end, today)
        closed_on = None
        if status is SessionStatus.closed:
            closed_on = min(end + timedelta(days=rng.randint(1, 3)), today - timedelta(days=1))
        session = _Session(
            new_id(), plan, plan.title.format(y=plan.start.year), end, status, closed_on
        )
        credit_hours = Decimal(plan.credit_hours)
        leave_cap = credit_hours / 7

        # Who attends: roll-call favours those trained least so far (docs/rules.md rule 8).
        def present(c: _Cadre, start: date = plan.start) -> bool:
            return c.left_on is None or c.left_on > start

        eligible = [c for c in cadres if plan.audience(c) and present(c)]
        rng.shuffle(eligible)
        eligible.sort(key=lambda c: c.sessions)
        share = plan.share * (0.6 if status is SessionStatus.open else 1.0)
        chosen = eligible[: min(plan.capacity, round(len(eligible) * share))]

        for cadre in chosen:
            enrollment_id = new_id()
            origin = (
                EnrollmentOrigin.roll_call
                if rng.random() < (0.8 if plan.centralised else 0.4)
                else EnrollmentOrigin.self
            )
            leave = ZERO
            score = None
            roll = rng.random()
            if status is SessionStatus.closed:
                if roll < 0.03:
                    e_status = EnrollmentStatus.withdrawn
                elif plan.centralised and roll < 0.07:
                    e_status = EnrollmentStatus.dropped_out
                    leave = _q(leave_cap.to_integral_value() + rng.randint(1, 8))
                else:
                    e_status = EnrollmentStatus.completed
                    if plan.centralised and rng.random() < 0.35:
                        cap = min(Decimal(4), leave_cap)
                        leave = _half_hours(rng, 0.5, float(cap)) if cap >= 1 else _q(cap / 2)
                    if plan.centralised:
                        score = _q(Decimal(rng.randint(750, 985)) / 10)
            elif status is SessionStatus.running:
                e_status = (
                    EnrollmentStatus.withdrawn
                    if roll < 0.05
                    else EnrollmentStatus.enrolled
                    if roll < 0.1
                    else EnrollmentStatus.confirmed
                )
                if e_status is EnrollmentStatus.confirmed and rng.random() < 0.15:
                    leave = _half_hours(rng, 0.5, 2)
            else:
                e_status = (
                    EnrollmentStatus.withdrawn
                    if roll < 0.05
                    else EnrollmentStatus.confirmed
                    if roll < 0.3
                    else EnrollmentStatus.enrolled
                )
            if e_status in {EnrollmentStatus.enrolled, EnrollmentStatus.confirmed}:
                session.enrolled += 1
            if e_status is not EnrollmentStatus.withdrawn:
                cadre.sessions += 1
            enrollment_rows.append(
                {
                    "id": enrollment_id,
                    "version": 1,
                    "training_session_id": session.id,
                    "cadre_id": cadre.id,
                    "origin": origin,
                    "status": e_status,
                    "leave_hours": leave,
                    "score": score,
                }
            )
            if e_status is EnrollmentStatus.completed:
                assert closed_on is not None
                hours = credit_hours - leave
                days = _q(plan.days * hours / credit_hours) if plan.centralised else ZERO
                logs.append(
                    _Log(
                        cadre=cadre,
                        kind=_log_kind(plan.form, plan.centralised),
                        title=session.title,
                        provider=plan.provider,
                        start=plan.start,
                        end=end,
                        hours=_q(hours),
                        days=days,
                        source=StudyLogSource.session,
                        session_id=session.id,
                        enrollment_id=enrollment_id,
                        reviewed_on=closed_on,
                    )
                )
        assert session.enrolled <= plan.capacity
        session_rows.append(
            {
                "id": session.id,
                "version": 1,
                "title": session.title,
                "form": plan.form,
                "centralised": plan.centralised,
                "provider": plan.provider,
                "organiser_org_unit_id": units_by_name[plan.organiser].id,
                "start_date": plan.start,
                "end_date": end,
                "days": _q(Decimal(plan.days)),
                "credit_hours": _q(credit_hours),
                "capacity": plan.capacity,
                "enrolled": session.enrolled,
                "status": status,
            }
        )
    return session_rows, enrollment_rows, logs


# --------------------------------------------------------------------------------------------
# Study logs entered by cadres (manual) or imported from earlier records
# --------------------------------------------------------------------------------------------

ONLINE_COURSES = [
    "习近平新时代中国特色社会主义思想概论",
    "党的二十大报告辅导解读",
    "新质生产力与高质量发展",
    "数字政府建设与治理能力现代化",
    "《中国共产党纪律处分条例》解读",
    "乡村振兴战略的实践路径",
    "总体国家安全观专题",
    "领导干部应对突发事件能力提升",
    "生态文明建设与长江大保护",
    "中国式现代化的理论与实践",
    "基层治理创新案例分析",
    "长三角一体化发展与安徽机遇",
    "习近平文化思想学习纲要",
    "优化营商环境政策解读",
]
ONLINE_PROVIDERS = ["中国干部网络学院", "安徽干部教育在线", "学习强国"]
BOOKS = [
    "习近平谈治国理政（第四卷）",
    "习近平著作选读（第一卷）",
    "中国共产党简史",
    "论党的自我革命",
    "之江新语",
    "摆脱贫困",
    "习近平的七年知青岁月",
    "毛泽东选集（第一卷）",
]
TOPICS = [
    "学习贯彻党的二十大精神",
    "深入学习贯彻习近平文化思想",
    "党纪学习教育",
    "学习贯彻党的二十届三中全会精神",
    "推动长三角一体化高质量发展",
    "加强新时代干部教育培训工作",
    "坚持和发展新时代“枫桥经验”",
    "全面推进乡村振兴",
    "发展新质生产力",
]
THESES = [
    "关于滁州市乡镇干部队伍建设情况的调研报告",
    "县域经济高质量发展路径研究",
    "基层干部教育培训需求调查与思考",
    "发展壮大村级集体经济的调研报告",
    "新能源产业链招商引资的实践与思考",
    "关于年轻干部培养选拔工作的调研",
]
SECONDMENTS = ["上海市松江区", "江苏省南京市江北新区", "浙江省湖州市", "安徽省发展和改革委员会"]
TOURS = ["浙江安吉余村", "江苏昆山", "上海张江科学城", "合肥滨湖科学城", "凤阳小岗村"]
REJECT_REASONS = [
    "学时证明材料不全，请补充后重新提交",
    "与集中培训记录重复",
    "学习时间与单位考勤记录不符",
]
VOID_REASONS = ["重复录入，予以作废", "培训班次录入有误，已重新登记"]

KIND_WEIGHTS: dict[StudyLogKind, float] = {
    StudyLogKind.online_course: 36,
    StudyLogKind.self_study: 14,
    StudyLogKind.central_group_study: 10,
    StudyLogKind.lecture: 9,
    StudyLogKind.seminar: 6,
    StudyLogKind.reading_note: 8,
    StudyLogKind.thesis: 3,
    StudyLogKind.teaching: 2,
    StudyLogKind.secondment: 1,
    StudyLogKind.job_rotation: 1,
    StudyLogKind.study_tour: 3,
}


def _kind_weights(cadre: _Cadre) -> list[float]:
    weights = dict(KIND_WEIGHTS)
    if not cadre.head:
        weights[StudyLogKind.central_group_study] = 0
    if cadre.unit.short == "dx":
        weights[StudyLogKind.teaching] = 12
    return [weights[k] for k in KIND_WEIGHTS]


def _manual_log(rng: random.Random, cadre: _Cadre, kind: StudyLogKind, start: date) -> _Log:
    """One log of `kind` starting on `start` (end date and hours drawn to fit the kind)."""
    span, days, provider, note = 1, ZERO, None, None
    topic = rng.choice(TOPICS)
    if kind is StudyLogKind.online_course:
        title = f"网络课程：{rng.choice(ONLINE_COURSES)}"
        provider = rng.choice(ONLINE_PROVIDERS)
        span, hours = rng.randint(1, 10), _half_hours(rng, 2, 10)
    elif kind is StudyLogKind.self_study:
        title = f"自学《{rng.choice(BOOKS)}》"
        span, hours = rng.randint(1, 7), _half_hours(rng, 2, 6)
    elif kind is StudyLogKind.central_group_study:
        title = f"理论学习中心组集体学习：{topic}"
        provider = f"{cadre.unit.name}理论学习中心组"
        hours = _half_hours(rng, 3, 4.5)
    elif kind is StudyLogKind.lecture:
        title = f"“{topic}”专题讲座"
        provider = rng.choice([PARTY_SCHOOL, "滁州市委宣讲团", f"{cadre.unit.county}委党校"])
        hours = _half_hours(rng, 2, 4)
    elif kind is StudyLogKind.seminar:
        title = f"{topic}专题研讨交流会"
        span, hours = rng.randint(1, 2), _half_hours(rng, 3, 8)
    elif kind is StudyLogKind.reading_note:
        title = f"《{rng.choice(BOOKS)}》读书笔记"
        span, hours = rng.randint(7, 40), _half_hours(rng, 2, 4)
    elif kind is StudyLogKind.thesis:
        title = rng.choice(THESES)
        span, hours = rng.randint(30, 75), _half_hours(rng, 8, 16)
    elif kind is StudyLogKind.teaching:
        title = f"讲授《{topic}》专题课"
        provider = (
            PARTY_SCHOOL if cadre.unit.role.startswith("city") else f"{cadre.unit.county}委党校"
        )
        hours = _half_hours(rng, 2, 4)
    elif kind is StudyLogKind.secondment:
        place = rng.choice(SECONDMENTS)
        title = f"赴{place}挂职锻炼"
        provider = place
        span, hours = rng.randint(180, 365), _half_hours(rng, 40, 96)
    elif kind is StudyLogKind.job_rotation:
        title = f"交流轮岗（{cadre.unit.county}）"
        span, hours = rng.randint(60, 180), _half_hours(rng, 16, 40)
    elif kind is StudyLogKind.study_tour:
        place = rng.choice(TOURS)
        title = f"赴{place}考察学习"
        provider = place
        span, hours = rng.randint(2, 5), _half_hours(rng, 8, 24)
    else:  # centralised training outside the city's own sessions
        if cadre.leading:
            options = [
                ("安徽省委党校{y}年县处级干部进修班", "中共安徽省委党校", 45, 60),
                ("中国浦东干部学院{y}年领导干部专题研修班", "中国浦东干部学院", 10, 12),
                ("安徽省委党校{y}年中青年干部培训班", "中共安徽省委党校", 60, 75),
            ]
        else:
            options = [
                (
                    f"{cadre.unit.county}委党校{{y}}年科级干部培训班",
                    f"中共{cadre.unit.county}委党校",
                    7,
                    9,
                ),
                ("滁州市{y}年科级干部任职培训班", PARTY_SCHOOL, 10, 12),
                ("安徽省{y}年乡镇干部专题培训班", "安徽省乡村振兴干部学院", 5, 5),
            ]
        fmt, provider, lo, hi = rng.choice(options)
        title = fmt.format(y=start.year)
        span = rng.randint(lo, hi)
        training_days = max(1, round(span * 5 / 7)) if span > 7 else span
        days = _q(Decimal(training_days))
        hours = _q(Decimal(training_days * 7))
        note = "集中培训结业证书已上传" if rng.random() < 0.5 else None
    end = start + timedelta(days=span - 1)
    return _Log(cadre, kind, title, provider, start, end, hours, days, note=note)


def _manual_logs(rng: random.Random, cadres: list[_Cadre], today: date) -> list[_Log]:
    first = date(today.year - 5, 1, 1)
    latest_end = today - timedelta(days=2)
    years = list(range(first.year, today.year + 1))
    year_weights = [1.0, 1.0, 1.2, 1.4, 1.6, 1.5][-len(years) :]
    kinds = list(KIND_WEIGHTS)
    logs: list[_Log] = []
    for cadre in cadres:
        last = min(latest_end, cadre.left_on or latest_end)
        # Centralised training outside the city's own sessions: leaders at provincial or
        # national schools (one or two long classes in five years), others at county schools.
        planned: list[tuple[int, StudyLogKind]] = []
        if cadre.leading:
            long_classes = (rng.random() < 0.7) + (rng.random() < 0.35)
            planned += [(rng.choice(years), StudyLogKind.centralised_training)] * long_classes
        else:
            planned += [(y, StudyLogKind.centralised_training) for y in years if rng.random() < 0.2]
        count = round(rng.randint(10, 20) * cadre.engagement) - min(cadre.sessions, 3)
        for _ in range(max(count - len(planned), 6)):
            year = rng.choices(years, weights=year_weights)[0]
            planned.append((year, rng.choices(kinds, weights=_kind_weights(cadre))[0]))
        for year, kind in planned:
            start = _rand_date(rng, date(year, 1, 1), date(year, 12, 31))
            if kind in {StudyLogKind.reading_note, StudyLogKind.thesis} and rng.random() < 0.3:
                # Reading and research often run across New Year.
                start = date(year, 12, 1) + timedelta(days=rng.randint(0, 25))
            log = _manual_log(rng, cadre, kind, start)
            if log.end > last:  # nothing recorded in the future (or after leaving)
                shift = log.end - last
                log.start, log.end = log.start - shift, log.end - shift
            if log.start < first:
                continue
            if kind is StudyLogKind.centralised_training and log.start.year < today.year - 2:
                log.source = StudyLogSource.import_  # taken over from the old paper archive
            _review(rng, log, today)
            logs.append(log)
    return logs


def _review(rng: random.Random, log: _Log, today: date) -> None:
    recent = log.end >= today - timedelta(days=45)
    roll = rng.random()
    if recent and roll < 0.55:
        log.status = StudyLogStatus.pending
        return
    if not recent and roll < 0.03:
        log.status = StudyLogStatus.rejected
        log.review_comment = rng.choice(REJECT_REASONS)
    elif not recent and roll < 0.05:
        log.status = StudyLogStatus.voided
        log.review_comment = rng.choice(VOID_REASONS)
    else:
        log.status = StudyLogStatus.approved
    log.reviewed_on = min(log.end + timedelta(days=rng.randint(1, 20)), today - timedelta(days=1))


# --------------------------------------------------------------------------------------------
# Assessments: the snapshot as the assessment service freezes it (devtools/demo/users.py), and the
# rating checked against the requirement (an `excellent` needs the year's requirement met).
# --------------------------------------------------------------------------------------------

PER_ITEM = {
    StudyLogKind.central_group_study: Decimal(3),
    StudyLogKind.reading_note: Decimal(2),
    StudyLogKind.thesis: Decimal(12),
}
FACTOR = {StudyLogKind.teaching: Decimal(2)}


def _share(log: _Log, lo: date, hi: date) -> Decimal:
    overlap = (min(log.end, hi) - max(log.start, lo)).days + 1
    if overlap <= 0:
        return Decimal(0)
    return Decimal(overlap) / Decimal((log.end - log.start).days + 1)


def _requirement_met(cadre: _Cadre, year: int, logs: Iterable[_Log]) -> bool:
    """docs/rules.md rules 4, 5 at the year's end (default policy), for choosing plausible
    ratings."""
    approved = [g for g in logs if g.status is StudyLogStatus.approved]
    year_end = date(year, 12, 31)
    if cadre.leading:
        lo = date(year - 4, 1, 1)
        central = [g for g in approved if g.kind is StudyLogKind.centralised_training]
        days = sum((g.days * _share(g, lo, year_end) for g in central), Decimal(0))
        hours = sum((g.hours * _share(g, lo, year_end) for g in central), Decimal(0))
        if days >= 90 or hours >= 550:
            return True
        promoted = cadre.promoted_on
        if promoted is None or promoted > year_end:
            return False
        return year_end <= date(promoted.year + 1, promoted.month, min(promoted.day, 28))
    lo = date(year, 1, 1)
    raw: dict[StudyLogKind, Decimal] = defaultdict(Decimal)
    central_days = Decimal(0)
    for g in approved:
        share = _share(g, lo, year_end)
        if not share:
            continue
        credit = PER_ITEM.get(g.kind) or g.hours * FACTOR.get(g.kind, Decimal(1))
        raw[g.kind] += credit * share
        if g.kind is StudyLogKind.centralised_training:
            central_days += g.days * share
    # Revision 2 of rule 5: the hours alternative counts centralised training only (cn-2023).
    return central_days >= 12 or raw[StudyLogKind.centralised_training] >= 90


def _snapshot(cadre: _Cadre, year: int, logs: Iterable[_Log]) -> dict[str, Any]:
    hours: dict[str, Decimal] = defaultdict(Decimal)
    days: dict[str, Decimal] = defaultdict(Decimal)
    count: Counter[str] = Counter()
    for g in logs:
        if g.status is StudyLogStatus.approved and g.start.year == year:
            hours[g.kind.value] += g.hours
            days[g.kind.value] += g.days
            count[g.kind.value] += 1
    by_kind = [
        {"kind": k, "hours": str(_q(hours[k])), "days": str(_q(days[k])), "logs": count[k]}
        for k in sorted(count)
    ]
    return {
        "year": year,
        "rank": cadre.rank.value,
        "recorded_hours": str(_q(sum(hours.values(), Decimal(0)))),
        "by_kind": by_kind,
    }


EXCELLENT_COMMENT = "经单位党组织研究，确定为优秀等次"


def _assessments(
    rng: random.Random,
    cadres: list[_Cadre],
    logs_by_cadre: dict[uuid.UUID, list[_Log]],
    today: date,
) -> list[Row]:
    """50 assessments a year for the last three years; ~15% `excellent`, only where the year's
    training requirement was met (docs/rules.md rule 9), the rest mostly `competent`."""
    rows: list[Row] = []
    for year in range(today.year - 3, today.year):
        pool = [c for c in cadres if c.left_on is None or c.left_on.year > year]
        met = [c for c in pool if _requirement_met(c, year, logs_by_cadre[c.id])]
        excellent = rng.sample(met, min(len(met), rng.randint(6, 9)))
        others = rng.sample([c for c in pool if c not in excellent], 50 - len(excellent))
        for cadre in sorted(excellent + others, key=lambda c: c.hr_id):
            roll = rng.random()
            if cadre in excellent:
                rating = AssessmentRating.excellent
            elif roll < 0.005:
                rating = AssessmentRating.incompetent
            elif roll < 0.04:
                rating = AssessmentRating.basically_competent
            else:
                rating = AssessmentRating.competent
            rows.append(
                {
                    "id": new_id(),
                    "version": 1,
                    "cadre_id": cadre.id,
                    "year": year,
                    "rating": rating,
                    "comment": EXCELLENT_COMMENT if rating is AssessmentRating.excellent else None,
                    "training_snapshot": _snapshot(cadre, year, logs_by_cadre[cadre.id]),
                }
            )
    return rows


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _quiet(_message: str) -> None:
    pass


async def seed_demo(
    db_session: AsyncSession,
    *,
    today: date | None = None,
    progress: Callable[[str], None] = _quiet,
) -> bool:
    """Load the demo data set into an empty database and return True; return False and change
    nothing when any org unit exists. Adds and flushes only: the caller's transaction commits.
    `progress` is told each step as it starts (what is loaded, and how many)."""
    if await db_session.scalar(select(OrgUnit.id).limit(1)) is not None:
        return False
    today = today or local_today()
    progress("building the demo data set (seeded, the same on every machine)")
    rng = random.Random(SEED)  # noqa: S311 - reproducible demo data, nothing secret

    units = _build_units()
    cadres = _build_cadres(rng, units, today)
    for cadre in cadres:  # ids in HR order, so the cadre list pages in that order
        cadre.id = new_id()
    session_rows, enrollment_rows, session_logs = _build_sessions(
        rng, {u.name: u for u in units}, cadres, today
    )
    logs = session_logs + _manual_logs(rng, cadres, today)
    # Every kind appears at least once in the data set.
    missing = set(StudyLogKind) - {g.kind for g in logs}
    for kind in sorted(missing):
        cadre = rng.choice([c for c in cadres if c.status is CadreStatus.active])
        log = _manual_log(rng, cadre, kind, date(today.year - 1, 3, 1))
        _review(rng, log, today)
        logs.append(log)
    logs.sort(key=lambda g: (g.start, g.cadre.hr_id, g.kind.value))  # ids follow the calendar

    logs_by_cadre: dict[uuid.UUID, list[_Log]] = defaultdict(list)
    for g in logs:
        logs_by_cadre[g.cadre.id].append(g)

    unit_rows = [
        {
            "id": u.id,
            "version": 1,
            "code": u.code,
            "name": u.name,
            "kind": u.kind,
            "parent_id": u.parent.id if u.parent else None,
            "path": u.path,
            "depth": u.depth,
            "active": True,
        }
        for u in units
    ]
    cadre_rows = [
        {
            "id": c.id,
            "version": 1,
            "hr_id": c.hr_id,
            "name": c.name,
            "id_number_ciphertext": cipher().encrypt(c.id_number),
            "id_number_hash": cipher().lookup_hash(c.id_number),
            "gender": c.gender,
            "birth_date": c.birth_date,
            "org_unit_id": c.unit.id,
            "rank": c.rank,
            "post_type": c.post_type,
            "position": c.position,
            "promoted_on": c.promoted_on,
            "status": c.status,
        }
        for c in cadres
    ]
    log_rows = [
        {
            "id": new_id(),
            "version": 1,
            "cadre_id": g.cadre.id,
            "kind": g.kind,
            "title": g.title,
            "provider": g.provider,
            "start_date": g.start,
            "end_date": g.end,
            "hours": g.hours,
            "days": g.days,
            "status": g.status,
            "source": g.source,
            "training_session_id": g.session_id,
            "enrollment_id": g.enrollment_id,
            "note": g.note,
            "review_comment": g.review_comment,
            "reviewed_at": (
                _reviewed_at(rng, g.reviewed_on)
                if g.reviewed_on and g.status is not StudyLogStatus.pending
                else None
            ),
            "request_fingerprint": None,
        }
        for g in logs
    ]
    assessment_rows = _assessments(rng, cadres, logs_by_cadre, today)

    steps: tuple[tuple[type[Base], list[Row], str], ...] = (
        (OrgUnit, unit_rows, "org units"),
        (Cadre, cadre_rows, "cadres"),
        (TrainingSession, session_rows, "training sessions"),
        (Enrollment, enrollment_rows, "enrollments"),
        (StudyLog, log_rows, "study logs"),
        (Assessment, assessment_rows, "assessments"),
    )
    for number, (model, rows, what) in enumerate(steps, start=1):
        progress(f"[{number}/{len(steps)}] loading {len(rows):,} {what}")
        await db_session.execute(insert(model), rows)
    await db_session.flush()
    # Each class gets its default audience (its organising department's parent subtree), as one
    # created through the API.
    await session_service.give_default_audiences(db_session)
    return True
