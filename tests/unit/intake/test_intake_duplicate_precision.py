"""Suspected-duplicate detection measured on a generated month of cases with known ground truth.

The generator imitates how the same matter reaches a centre twice: a citizen who came to the window
calls 12345 a few days later (the hotline operator writes its own summary, in its own style, and the
work order carries the full administrative address), the police pass on a 110 call, a grid worker
files what a neighbour told them. Re-reports come from the same person (usually the same phone,
sometimes a family member's), from a family member at the same home, or from a neighbour (own home,
or a public place both name). Look-alikes that must *not* link: the same home with a different
matter of the same category, the same reporter with another matter (same or other category), the
same category at another address, and a late re-report outside the 7-day window.

Detection runs exactly as registration does (services/intake/registration.py): the real classifier
when the channel gives no category, the real address normalisation, the keyed phone hash, the
30-day candidate window and the 7-day duplicate window, through `Assessor`.

A link i → j is true when both are reports of one matter; a case whose matter was reported in the
7 days before it should link. Figures are printed (pytest -s) and written to
test-artifacts/duplicate-precision.txt.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.crypto import keyed_hash
from services.intake.assessment import Assessor, Candidate
from services.intake.domain.duplicates import DUPLICATE_WINDOW, REPEAT_WINDOW, same_address

ARTIFACTS = Path(os.environ.get("HUB_TEST_ARTIFACTS", "test-artifacts"))
SEED = 20261122
HASH_KEY = "precision-test-key"
START = datetime(2026, 10, 1, 1, 0, tzinfo=UTC)

# --- the world: places, people -------------------------------------------------------------------

ROADS = ["阿尔丁大街", "钢铁大街", "友谊大街", "青山路", "民族东路", "林荫路", "白云路", "昆区乌兰道"]
STREETS = ["阿尔丁街道", "白云路街道", "少先路街道", "友谊大街街道", "沼潭街道"]
COMMUNITIES = [
    "东方花园", "幸福小区", "阿尔丁花园", "青年小区", "钢铁新村", "友谊十八街坊", "华丰园", "万达嘉园",
    "锦绣家园", "富强小区", "和平里", "明珠花园", "金桥小区", "团结新村", "建设村", "光明小区",
    "绿苑小区", "春晖园", "景苑花园", "凯旋城",
]  # fmt: skip
CN_DIGITS = "零一二三四五六七八九十"


@dataclass(frozen=True)
class Home:
    road: str
    street: str
    community: str
    building: int
    unit: int
    room: int


def cn_small(n: int) -> str:
    return CN_DIGITS[n] if n <= 10 else str(n)


def spell_home(home: Home, channel: str, rng: random.Random) -> str:
    """How each channel writes one home: 12345 the full administrative form, 110 often without the room."""
    h = home
    if channel == "hotline12345":
        return rng.choice(
            [
                f"包头市昆都仑区{h.street}{h.community}{h.building}号楼{h.unit}单元{h.room}室",
                f"昆都仑区{h.road}{h.community}{h.building}-{h.unit}-{h.room}",
                f"{h.community}{h.building}栋{h.unit}单元{h.room}",
            ]
        )
    if channel == "police110":
        return rng.choice(
            [
                f"{h.road}{h.community}{h.building}栋{h.unit}单元",
                f"{h.community}{h.building}号楼{h.unit}单元{h.room}",
            ]
        )
    if channel == "grid_app":
        return f"{h.community}{h.building}栋{h.unit}单元{h.room}"
    return rng.choice(
        [
            f"{h.community}{h.building}栋{h.unit}单元{h.room}室",
            f"{h.community}{h.building}号楼{h.unit}单元{h.room}",
            f"{h.community}{cn_small(h.building)}栋{cn_small(h.unit)}单元{h.room}室",
            f"{h.road}{h.community}{h.building}-{h.unit}-{h.room}",
        ]
    )


def spell_place(community: str, place: str, rng: random.Random) -> str:
    named = community if community.endswith("小区") else rng.choice([community, f"{community}小区"])
    return rng.choice([f"{named}{place}", f"昆都仑区{named}{place}", f"{named}{place}附近"])


# --- matters: what happened, told in each channel's voice ----------------------------------------


@dataclass(frozen=True)
class Kind:
    name: str
    category: str
    slots: dict[str, list[str]]
    voices: dict[str, list[tuple[str, str]]]  # channel -> [(title, description)]
    public_place: list[str] = field(default_factory=list)  # where a neighbour would locate it


KINDS = [
    Kind(
        "flue",
        "public_facilities_alteration",
        {
            "who": ["楼上", "楼下", "隔壁"],
            "dur": ["半年", "三个月", "一年多"],
            "effect": ["油烟倒灌", "异味很重", "排烟不畅"],
        },
        {
            "window": [("{who}私改公共烟道", "{who}邻居私自改动公共烟道，{effect}{dur}了，多次协商无果")],
            "hotline12345": [
                (
                    "反映{who}住户私改烟道",
                    "市民来电反映：{who}住户私自改造公共烟道，导致其家中{effect}，已持续{dur}，诉求尽快处理。",
                )
            ],
            "police110": [("烟道纠纷", "报警人称{who}住户改了公用烟道，家里{effect}，双方发生口角。")],
            "grid_app": [
                ("入户走访：私改烟道", "网格员走访了解到，{who}住户拆改公共烟道，邻居家中{effect}。")
            ],
        },
    ),
    Kind(
        "leak",
        "neighbour",
        {"part": ["卫生间", "厨房", "阳台"], "dur": ["一个月", "两周", "三个月"]},
        {
            "window": [("楼上漏水", "楼上{part}漏水，我家{part}顶棚渗水发霉{dur}了，楼上不配合维修")],
            "hotline12345": [
                (
                    "反映楼上漏水问题",
                    "市民来电反映：楼上住户{part}渗漏，导致其家中{part}屋顶发霉，已{dur}，协商未果，诉求协调维修。",
                )
            ],
            "police110": [("邻里漏水纠纷", "报警人称楼上{part}往下漏水，找楼上理论被拒，发生争吵。")],
            "grid_app": [
                ("邻里渗水矛盾", "网格员走访了解到，该户{part}顶部因楼上渗漏长期潮湿，双方矛盾较深。")
            ],
        },
    ),
    Kind(
        "night_noise",
        "noise",
        {"source": ["烧烤店", "KTV", "广场舞", "夜市摊点"], "time": ["深夜", "凌晨", "晚上十点以后"]},
        {
            "window": [("{source}噪音扰民", "楼下{source}{time}噪音很大，严重影响休息，反映多次没人管")],
            "hotline12345": [
                (
                    "反映{source}噪音扰民",
                    "市民来电反映：附近{source}{time}持续产生噪音，影响周边居民休息，诉求相关部门处理。",
                )
            ],
            "police110": [("噪音扰民", "报警人称{source}{time}太吵，无法入睡。")],
            "grid_app": [
                ("巡查发现噪声扰民", "网格员接居民反映并核实，{source}{time}噪声较大，居民意见大。")
            ],
        },
        public_place=["北门广场", "南门商铺", "东侧空地"],
    ),
    Kind(
        "renovation_noise",
        "noise",
        {"dur": ["一周", "半个月"], "time": ["中午", "周末早上", "晚上"]},
        {
            "window": [("装修噪音", "隔壁装修{time}也施工，电钻声不断，已经{dur}")],
            "hotline12345": [
                (
                    "反映装修扰民",
                    "市民来电反映：邻居装修不按规定时间施工，{time}仍使用电钻，已持续{dur}，诉求制止。",
                )
            ],
            "police110": [("装修噪音纠纷", "报警人称邻居{time}装修噪音大，上门沟通后发生争执。")],
            "grid_app": [("装修扰民", "网格员核实邻居装修存在{time}施工情况，已劝导。")],
        },
    ),
    Kind(
        "lift",
        "property",
        {"issue": ["电梯经常停运", "电梯困人", "电梯年检过期"], "dur": ["两个月", "半年", "一个多月"]},
        {
            "window": [("小区电梯问题", "单元{issue}，找物业多次没有解决，已经{dur}")],
            "hotline12345": [
                (
                    "反映小区电梯故障",
                    "市民来电反映：所住单元{issue}，物业公司不作为，已持续{dur}，诉求督促物业维修。",
                )
            ],
            "police110": [("电梯纠纷", "报警人称{issue}，与物业人员发生争执。")],
            "grid_app": [("电梯安全隐患", "网格员巡查发现该单元{issue}，居民反映强烈，物业未及时处置。")],
        },
    ),
    Kind(
        "fees",
        "property",
        {"fee": ["物业费上涨", "乱收停车费", "收取二次供水费"]},
        {
            "window": [("物业乱收费", "物业公司{fee}，没有经过业主同意，要求退还")],
            "hotline12345": [
                ("反映物业收费问题", "市民来电反映：小区物业公司{fee}，未公示收费依据，诉求规范收费。")
            ],
            "police110": [("物业收费纠纷", "报警人称因{fee}与物业工作人员发生口角。")],
            "grid_app": [("物业收费矛盾", "网格员了解到业主对{fee}有意见，与物业存在矛盾。")],
        },
    ),
    Kind(
        "wages",
        "labour",
        {
            "employer": ["某物流公司", "某餐饮店", "某装修公司", "某保洁公司"],
            "months": ["两个月", "三个月", "半年"],
        },
        {
            "window": [("公司拖欠工资", "{employer}拖欠我{months}工资，老板一直推脱")],
            "hotline12345": [
                (
                    "反映被拖欠工资",
                    "市民来电反映：其在{employer}工作，被拖欠{months}工资未发放，诉求协调追讨。",
                )
            ],
            "police110": [("欠薪纠纷", "报警人称{employer}老板欠其{months}工资不给，双方发生争执。")],
            "grid_app": [("欠薪线索", "网格员了解到辖区居民被{employer}拖欠{months}工资。")],
        },
    ),
    Kind(
        "rubbish",
        "sanitation",
        {
            "where": ["楼道", "单元门前", "地下室"],
            "what": ["建筑垃圾", "大件垃圾", "生活垃圾"],
            "dur": ["一周", "半个月"],
        },
        {
            "window": [("{where}垃圾堆放", "{where}长期堆放{what}，{dur}没人清理，臭味很大")],
            "hotline12345": [
                (
                    "反映垃圾未清运",
                    "市民来电反映：{where}堆放大量{what}，已{dur}无人清运，影响环境卫生，诉求清理。",
                )
            ],
            "police110": [("垃圾堆放纠纷", "报警人称邻居在{where}堆放{what}，劝说无果发生争吵。")],
            "grid_app": [("巡查发现垃圾堆放", "网格员巡查发现{where}堆积{what}，存在消防隐患。")],
        },
        public_place=["北门垃圾站", "南门", "中心广场"],
    ),
    Kind(
        "family",
        "family",
        {"issue": ["赡养老人", "离婚财产分割", "子女抚养"]},
        {
            "window": [("家庭纠纷", "因{issue}问题与家人发生矛盾，希望调解")],
            "hotline12345": [("反映家庭矛盾", "市民来电反映：因{issue}与亲属产生纠纷，诉求协调调解。")],
            "police110": [("家庭纠纷", "报警人称因{issue}与家人吵架，情绪激动。")],
            "grid_app": [("家庭矛盾排查", "网格员排查发现该户因{issue}存在家庭矛盾。")],
        },
    ),
    Kind(
        "decoration_contract",
        "contract",
        {
            "firm": ["某装修公司", "某家具店", "某门窗店"],
            "issue": ["收了定金不施工", "工期一拖再拖", "质量不合格不退款"],
        },
        {
            "window": [("装修合同纠纷", "和{firm}签了合同，对方{issue}，要求退钱")],
            "hotline12345": [
                ("反映合同纠纷", "市民来电反映：与{firm}签订装修合同后，对方{issue}，诉求协调解决。")
            ],
            "police110": [("合同纠纷", "报警人称{firm}{issue}，到店理论无果。")],
            "grid_app": [("消费合同纠纷", "网格员了解到居民与{firm}存在纠纷，对方{issue}。")],
        },
    ),
    Kind(
        "car_damage",
        "public_security",
        {"what": ["车辆被划", "电动车被盗", "车窗被砸"], "when": ["昨晚", "前天夜里"]},
        {
            "window": [("{what}", "{when}停在楼下的车{what}了，希望查一下监控")],
            "hotline12345": [
                ("反映{what}", "市民来电反映：其{when}停放在小区内的车辆{what}，诉求调取监控查处。")
            ],
            "police110": [("{what}", "报警人称{when}车辆{what}，请求出警。")],
            "grid_app": [("治安隐患", "网格员了解到小区{when}发生{what}情况，监控存在盲区。")],
        },
    ),
]
KIND_BY_NAME = {k.name: k for k in KINDS}
EXPLICIT_CATEGORY = {"hotline12345": 0.8, "police110": 0.3, "window": 0.6, "grid_app": 0.5}


# --- generated cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gen:
    matter: int
    role: str  # first | re_same | re_family | re_neighbour | late | look_* | background
    channel: str
    category: str | None  # given by the channel, else classified
    title: str
    text: str
    phone: str | None
    address: str
    at: datetime


class World:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.phones: set[str] = set()
        self.matters = 0

    def phone(self) -> str:
        while True:
            number = f"1{self.rng.choice('3578')}{self.rng.randrange(10**9):09d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def home(self) -> Home:
        r = self.rng
        return Home(
            r.choice(ROADS),
            r.choice(STREETS),
            r.choice(COMMUNITIES),
            r.randint(1, 20),
            r.randint(1, 4),
            r.choice([1, 2, 3, 5, 6, 8, 11, 15]) * 100 + r.randint(1, 4),
        )

    def new_matter(self) -> int:
        self.matters += 1
        return self.matters


def tell(kind: Kind, facts: dict[str, str], channel: str, rng: random.Random) -> tuple[str, str]:
    title, text = rng.choice(kind.voices[channel])
    return title.format(**facts), text.format(**facts)


def category_given(kind: Kind, channel: str, rng: random.Random) -> str | None:
    return kind.category if rng.random() < EXPLICIT_CATEGORY[channel] else None


def other_channel(channel: str, rng: random.Random) -> str:
    return rng.choice([c for c in ("window", "hotline12345", "police110", "grid_app") if c != channel])


def generate(rng: random.Random, first_reports: int = 110) -> list[Gen]:
    world = World(rng)
    cases: list[Gen] = []

    def report(
        matter: int,
        role: str,
        kind: Kind,
        facts: dict[str, str],
        channel: str,
        phone: str | None,
        address: str,
        at: datetime,
    ) -> None:
        title, text = tell(kind, facts, channel, rng)
        cases.append(
            Gen(matter, role, channel, category_given(kind, channel, rng), title, text, phone, address, at)
        )

    for _ in range(first_reports):
        kind = rng.choice(KINDS)
        facts = {slot: rng.choice(options) for slot, options in kind.slots.items()}
        home, phone = world.home(), world.phone()
        # A nuisance in a public place is located there half the time, else at the reporter's home.
        place = rng.choice(kind.public_place) if kind.public_place and rng.random() < 0.5 else None

        def where(channel: str, home: Home = home, place: str | None = place) -> str:
            return spell_place(home.community, place, rng) if place else spell_home(home, channel, rng)

        channel = rng.choices(["window", "hotline12345", "police110", "grid_app"], [4, 4, 1, 1])[0]
        at = START + timedelta(days=rng.uniform(0, 45))
        matter = world.new_matter()
        report(matter, "first", kind, facts, channel, phone, where(channel), at)

        roll = rng.random()
        if roll < 0.42:  # re-reported within the week, one or two more times
            for n in range(rng.choice([1, 1, 1, 2])):
                later = at + timedelta(days=rng.uniform(0.05, 6.5) * (n + 1) / 2)
                again = other_channel(channel, rng)
                who = rng.choices(["re_same", "re_family", "re_neighbour"], [65, 15, 20])[0]
                if who == "re_same":
                    same_phone = phone if rng.random() < 0.9 else world.phone()
                    report(matter, who, kind, facts, again, same_phone, where(again), later)
                elif who == "re_family":
                    report(matter, who, kind, facts, again, world.phone(), where(again), later)
                elif kind.public_place:  # a neighbour names the public place (whatever the first one said)
                    spot = place or rng.choice(kind.public_place)
                    report(
                        matter,
                        who,
                        kind,
                        facts,
                        again,
                        world.phone(),
                        spell_place(home.community, spot, rng),
                        later,
                    )
                else:  # a neighbour reports from their own home, a floor away
                    upstairs = Home(
                        home.road, home.street, home.community, home.building, home.unit, home.room + 100
                    )
                    report(
                        matter,
                        who,
                        kind,
                        facts,
                        again,
                        world.phone(),
                        spell_home(upstairs, again, rng),
                        later,
                    )
        elif roll < 0.50:  # re-reported, but after the duplicate window (a repeat, not a suspected duplicate)
            later = at + timedelta(days=rng.uniform(9, 20))
            again = other_channel(channel, rng)
            report(matter, "late", kind, facts, again, phone, where(again), later)

        look = rng.random()
        near = at + timedelta(days=rng.uniform(-3, 5))
        if look < 0.12:  # same home, another matter (of the same category where one exists)
            siblings = [k for k in KINDS if k.category == kind.category and k is not kind]
            other = rng.choice(siblings or [k for k in KINDS if k is not kind])
            other_facts = {slot: rng.choice(options) for slot, options in other.slots.items()}
            ch = rng.choice(["window", "hotline12345"])
            report(
                world.new_matter(),
                "look_same_home",
                other,
                other_facts,
                ch,
                world.phone() if rng.random() < 0.5 else phone,
                spell_home(home, ch, rng),
                near,
            )
        elif look < 0.24:  # same reporter, another matter (usually another category)
            other = rng.choice([k for k in KINDS if k is not kind])
            other_facts = {slot: rng.choice(options) for slot, options in other.slots.items()}
            ch = rng.choice(["window", "hotline12345"])
            report(
                world.new_matter(),
                "look_same_reporter",
                other,
                other_facts,
                ch,
                phone,
                spell_home(home, ch, rng),
                near,
            )
        elif look < 0.40:  # same kind of matter, same week, somewhere else
            other_home = world.home()
            other_facts = {slot: rng.choice(options) for slot, options in kind.slots.items()}
            ch = rng.choice(["window", "hotline12345"])
            report(
                world.new_matter(),
                "look_same_category",
                kind,
                other_facts,
                ch,
                world.phone(),
                spell_home(other_home, ch, rng),
                near,
            )
    cases.sort(key=lambda c: c.at)
    return cases


# --- detection exactly as registration does it ----------------------------------------------------


def detect(cases: list[Gen], assessor: Assessor) -> tuple[list[str], list[str | None], list[int]]:
    """Case numbers, suspected duplicate per case (a case number or None), and the matter of each."""
    numbers: list[str] = []
    links: list[str | None] = []
    stored: list[Candidate] = []
    for i, case in enumerate(cases):
        category = case.category or assessor.classify(case.title, case.text)[0]
        phone_hash = keyed_hash(HASH_KEY, case.phone) if case.phone else None
        address_key = assessor.address_key(case.address)
        # The registration query: same reporter or same address, same category, last 30 days.
        earlier = [
            c
            for c in stored
            if c.category == category
            and (
                same_address(c.address_key, address_key)
                or (phone_hash is not None and c.phone_hash == phone_hash)
            )
            and c.registered_at >= case.at - REPEAT_WINDOW
        ]
        case_no = f"C{i:04d}"
        new = Candidate(case_no, phone_hash, address_key, category, case.at, f"{case.title} {case.text}")
        links.append(
            assessor.duplicate_of(new, [c for c in earlier if c.registered_at >= case.at - DUPLICATE_WINDOW])
        )
        numbers.append(case_no)
        stored.append(new)
    return numbers, links, [c.matter for c in cases]


@dataclass(frozen=True)
class Figures:
    cases: int
    matters: int
    roles: dict[str, int]
    true_links: int
    false_links: int
    missed: int
    missed_by_role: dict[str, int]
    false_by_role: dict[str, int]

    @property
    def precision(self) -> float:
        predicted = self.true_links + self.false_links
        return self.true_links / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_links + self.missed
        return self.true_links / expected if expected else 1.0


def measure(seed: int, assessor: Assessor) -> Figures:
    cases = generate(random.Random(seed))
    numbers, links, matters = detect(cases, assessor)
    matter_of = dict(zip(numbers, matters, strict=True))
    true_links = false_links = missed = 0
    missed_by_role: Counter[str] = Counter()
    false_by_role: Counter[str] = Counter()
    for i, (case, link) in enumerate(zip(cases, links, strict=True)):
        should = any(
            matters[j] == case.matter and case.at - cases[j].at <= DUPLICATE_WINDOW for j in range(i)
        )
        if link is not None and matter_of[link] == case.matter:
            true_links += 1
        elif link is not None:
            false_links += 1
            false_by_role[case.role] += 1
        if should and (link is None or matter_of[link] != case.matter):
            missed += 1
            missed_by_role[case.role] += 1
    return Figures(
        len(cases),
        len(set(matters)),
        dict(sorted(Counter(c.role for c in cases).items())),
        true_links,
        false_links,
        missed,
        dict(sorted(missed_by_role.items())),
        dict(sorted(false_by_role.items())),
    )


OTHER_SEEDS = range(1, 11)


def test_duplicate_detection_precision_and_recall_on_a_generated_month() -> None:
    assessor = Assessor.from_packaged_rules()
    main = measure(SEED, assessor)
    others = [measure(seed, assessor) for seed in OTHER_SEEDS]
    pooled_true = sum(f.true_links for f in others)
    pooled_precision = pooled_true / sum(f.true_links + f.false_links for f in others)
    pooled_recall = pooled_true / sum(f.true_links + f.missed for f in others)
    report = "\n".join(
        [
            f"duplicate detection on {main.cases} generated cases (seed {SEED}, {main.matters} matters)",
            f"  case types: {main.roles}",
            f"  true links {main.true_links}, false links {main.false_links}, missed links {main.missed}",
            f"  precision {main.precision:.3f}, recall {main.recall:.3f}",
            f"  missed by re-report type: {main.missed_by_role}",
            f"  false links by case type: {main.false_by_role}",
            f"  {len(others)} more seeds ({sum(f.cases for f in others)} cases): pooled precision "
            f"{pooled_precision:.3f}, recall {pooled_recall:.3f}; per seed precision "
            f"{min(f.precision for f in others):.2f}-{max(f.precision for f in others):.2f}, recall "
            f"{min(f.recall for f in others):.2f}-{max(f.recall for f in others):.2f}",
        ]
    )
    print("\n" + report)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "duplicate-precision.txt").write_text(report + "\n", encoding="utf-8")

    assert 180 <= main.cases <= 240
    assert main.precision >= 0.9, report
    assert main.recall >= 0.8, report
    assert pooled_precision >= 0.9 and pooled_recall >= 0.8, report
