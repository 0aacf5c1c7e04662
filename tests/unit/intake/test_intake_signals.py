"""Text signals: what a report's words say (people, amounts, repeats, risk flags), negation, near
misses, and the evidence each fact carries; the rule file's errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.domain.enums import RiskFlag
from services.intake.domain.numerals import number_value
from services.intake.domain.resources import read_rule_text
from services.intake.domain.rulefile import RuleFileError
from services.intake.domain.signals import (
    SignalReader,
    TextFacts,
    case_texts,
    default_signal_reader,
    load_signal_rules,
    read_text_facts,
)
from services.intake.rulebook import SIGNALS, RulesInvalid, load_assessor

SIGNALS_TEXT = read_rule_text("signals.yaml")

V, S, M, C, P = (
    RiskFlag.violence_threat,
    RiskFlag.self_harm_threat,
    RiskFlag.mass_gathering_risk,
    RiskFlag.criminal_risk,
    RiskFlag.vulnerable_person,
)


def read(description: str, title: str = "") -> TextFacts:
    return read_text_facts(case_texts(title, description))


# --- facts read from phrases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("他扬言要从楼顶跳下去", {S}),
        ("当事人站在天台上说要跳下去", {S}),
        ("老人情绪低落，说不想活了", {S}),
        ("对方扬言要拿刀砍人", {V, C}),
        ("男子威胁要放火烧了物业办公室", {V}),
        ("工人爬上塔吊讨薪", {V}),
        ("45名农民工扬言明天集体堵路讨薪", {M}),
        ("村民准备组织到区政府讨说法", {M}),
        ("二三十名业主聚集在售楼处门口", {M}),
        ("业主在小区门口拉横幅", {M}),
        ("双方因车位发生打斗，一人被打伤", {C}),
        ("邻里纠纷升级，差点闹出人命", {C}),
        ("八十多岁独居老人，子女在外地，家中无人照看", {P}),
        ("七旬老人独居，冬季停暖后屋内受冻", {P}),
        ("一名7岁的孩子被困在电梯里", {P}),
        ("残疾人家属反映，出入坡道被占用存在安全隐患", {P}),
        ("他喝了农药，被家人送医", {S}),
        ("包工头带着几十个工人去项目部讨说法", {M}),
        ("摊主抄起一把菜刀冲了出来", {C}),
        ("双方因占道发生争执，一人被打得流血", {C}),
    ],
)
def test_risk_phrases_set_their_flags(text: str, flags: set[RiskFlag]) -> None:
    assert read(text).flags == frozenset(flags)


@pytest.mark.parametrize(
    ("text", "people"),
    [
        ("45名农民工", 45),
        ("四十五名工人", 45),
        ("涉及十几户居民", 11),
        ("二三十人聚在门口", 20),
        ("三十多人", 30),
        ("近百名业主", 90),
        ("上百人", 100),
        ("百余名村民", 100),
        ("数十户商户", 20),
        ("20-30人", 20),
        ("20至30名工人", 20),
        ("五六个村民", 5),
        ("两家人", 2),
        ("全家五口人", 5),
        ("１２名工人", 12),  # full-width digits
        ("十二户业主因物业服务不到位拒交物业费", 12),
        ("同楼道的几户人家", 3),  # 几 alone: at least three
        ("某幼儿园周边商户有十四五家占道经营", 14),
        ("其与另外9名工友在工地干活", 10),  # the nine besides the caller
        ("来电人称和两个老乡在餐馆打工", 3),
        ("小区有六七户对物业有意见", 6),  # the setting says they are involved
        ("十几个商贩占道经营", 11),  # a word for people not in the list, by its ending
    ],
)
def test_people_involved_lower_bound(text: str, people: int) -> None:
    assert read(text).people_involved == people


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("拖欠工资20万元", "200000"),
        ("涉案金额1.5亿", "150000000"),
        ("拖欠工程款八十万", "800000"),
        ("欠薪二十多万元", "200000"),
        ("欠了我三万块钱", "30000"),
        ("借款3万余元", "30000"),
        ("押金15,000元", "15000"),
        ("赔偿款一万五千元", "15000"),
        ("充值累计十万零五千", "105000"),
        ("12名工人，每人被拖欠工资约9万元", "1080000"),  # per person, times the people read
    ],
)
def test_amounts(text: str, amount: str) -> None:
    assert read(text).amount_yuan == Decimal(amount)


@pytest.mark.parametrize(
    ("text", "earlier"),
    [
        ("这是第三次反映此事", 2),
        ("已是第3次来电", 2),
        ("市民再次来电反映", 1),
        ("此前多次向社区反映", 2),  # 多次: at least three in all
        ("已经投诉了三次", 3),  # three before this one
        ("上个星期反映过门禁坏了，今天又来说一下", 1),
        ("第二次拨打12345", 1),
    ],
)
def test_repeated_reporting(text: str, earlier: int) -> None:
    assert read(text).repeat_count == earlier


# --- negation, hearsay and near misses -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "没有人扬言要跳下去",
        "当事人并没有要跳楼的意思",
        "工人表示不会去堵路，等待协调",
        "双方发生争执，但并未动手",
        "现场未发生肢体冲突",
        "否认扬言报复",
        "老人身体尚好，家中不存在安全隐患",
    ],
)
def test_negated_signals_do_not_fire(text: str) -> None:
    assert read(text).flags == frozenset()


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("讨薪未果扬言堵路", {M}),  # 未 before 果 is no negation of 堵路
        ("他说如果没有结果就去堵路", {M}),  # a conditional threat still is one
        ("未成年人在网吧打架", {C}),
        ("没人管，他扬言要跳楼", {S}),  # the negation is in another clause
        ("家属劝他不要跳楼", {S}),  # pleading means there is a threat
    ],
)
def test_what_only_looks_negated_still_fires(text: str, flags: set[RiskFlag]) -> None:
    assert read(text).flags == frozenset(flags)


@pytest.mark.parametrize(
    "text",
    [
        "楼上住户每晚跳广场舞，噪音扰民",
        "3号楼2单元下水道堵塞",
        "2023年购买的房屋漏水",
        "多次打电话给物业无人接听",
        "楼下堵塞的下水道散发臭味",
        "车辆乱停乱放堵路，影响出行",
        "外卖骑手饭点聚集，鸣笛扰民",
        "夜间施工，休息被打扰",
        "商场跳楼价促销噪音大",
        "医院通知下周动手术",
        "村集体经济组织分红不公",
        "千家万户都受影响",
        "多次沟通无果",
        "收到5000人民币的罚单",
        "多次向物业反映，物业不理",  # reports to the other party are not reports to the hub
        "他给物业打了十几次电话报修",
        "经常被物业打电话催缴",
        "小区门口有人打横幅，经核实是商家开业宣传",
        "有人在门口聚集，民警到场发现是业主排队领取月饼，无异常",
        "摊主拿刀切西瓜卖",
        "万一出事谁负责，千万不要拖",
        "八十多岁的老人和儿子一起住，最近在家摔倒了",  # elderly, but not living alone (RULES.md)
        "三个月没发工资，等了十几个小时没人管",
        "物业在群里说要干掉违章停车",
    ],
)
def test_near_misses_fire_nothing(text: str) -> None:
    facts = read(text)
    assert facts.flags == frozenset()
    assert facts.people_involved is None and facts.amount_yuan is None and facts.repeat_count is None


def test_background_numbers_are_not_head_counts() -> None:
    # The size of the employer, not the people involved: only the one person is.
    assert read("单位有300多名员工，只有他一个人被拖欠工资").people_involved == 1


def test_a_title_restating_the_description_is_read_there() -> None:
    facts = read("110转警情：小区门口有人打横幅，经民警核实是商家开业宣传。", title="小区门口有人打横幅")
    assert facts.flags == frozenset()
    facts = read("工人扬言要从楼顶跳下去", title="工人扬言要从楼顶跳下去")
    assert [e.spans[0].source for e in facts.evidence["flags.self_harm_threat"]] == ["description"]


def test_hearsay_fires_and_says_so() -> None:
    facts = read("听说有人要组织集体上访")
    assert facts.flags == {M}
    [evidence] = facts.evidence["flags.mass_gathering_risk"]
    assert evidence.hearsay and "据传闻" in evidence.reason_zh


def test_near_prefix_inside_a_word_is_not_nearly() -> None:
    assert read("附近30多户居民").people_involved == 30  # 附近, not 近 30
    assert read("最近3人受伤").people_involved == 3


# --- evidence ------------------------------------------------------------------------------------


def test_evidence_quotes_the_words_with_offsets_into_each_text() -> None:
    title = "市民反映欠薪"
    description = "市民来电称，45名农民工讨薪未果，其中一人扬言要从楼顶跳下去。"
    facts = read(description, title)
    [self_harm] = facts.evidence["flags.self_harm_threat"]
    assert self_harm.quote == "扬言…跳下去"
    assert self_harm.reason_zh == "文本含“扬言…跳下去”：自伤风险"
    assert [(s.source, s.text) for s in self_harm.spans] == [
        ("description", "扬言"),
        ("description", "跳下去"),
    ]
    for span in self_harm.spans:
        assert description[span.start : span.end] == span.text
    [people] = facts.evidence["people_involved"]
    assert people.value == 45 and people.quote == "45名农民工"
    assert people.reason_zh == "文本含“45名农民工”：涉及人数按45人计"


def test_notes_are_read_and_named_as_notes() -> None:
    facts = read_text_facts(case_texts("噪音扰民", "楼上噪音", [(1, "催办"), (2, "对方扬言要报复")]))
    [violence] = facts.evidence["flags.violence_threat"]
    assert [(s.source, s.note_no, s.text) for s in violence.spans] == [
        ("note", 2, "扬言"),
        ("note", 2, "报复"),
    ]


def test_the_largest_number_is_kept_with_its_own_quote() -> None:
    facts = read("起初有5名工人，后来二十多名工人聚在一起，共欠薪3万元，后核实为12万元")
    assert facts.people_involved == 20 and facts.amount_yuan == Decimal(120000)
    assert [e.quote for e in facts.evidence["people_involved"]] == ["二十多名工人"]
    assert [e.quote for e in facts.evidence["amount_yuan"]] == ["12万元"]


def test_quotes_per_fact_are_capped() -> None:
    facts = read("扬言报复。" * 10)
    assert facts.flags == {V} and len(facts.evidence["flags.violence_threat"]) == 3


# --- properties ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=100_000), st.sampled_from(["名工人", "人", "户居民", "位老人"]))
def test_chinese_and_arabic_numerals_round_trip(n: int, unit: str) -> None:
    import cn2an

    assert read(f"现场{cn2an.an2cn(n)}{unit}讨要欠款").people_involved == n
    assert read(f"现场{n}{unit}讨要欠款").people_involved == n


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=8), st.sampled_from(["十", "百"]))
def test_a_range_of_adjacent_digits_is_its_lower_bound(low: int, unit: str) -> None:
    digits = "一二三四五六七八九"
    assert number_value(f"{digits[low - 1]}{digits[low]}{unit}") == low * (10 if unit == "十" else 100)


FRAGMENTS = ["扬言", "跳下去", "45名", "没有人", "，", "。", "八十万", "工程款", "集体", "堵路", "老人", "独居",
             "无人照看", "第三次反映", "ａｂ", "１２名", "\n", "并未", "动手", "听说"]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=30))
def test_every_quote_is_the_texts_own_words(pieces: list[str]) -> None:
    text = "".join(pieces)
    facts = read(text)
    for found in facts.evidence.values():
        for evidence in found:
            for span in evidence.spans:
                assert text[span.start : span.end] == span.text


# --- the rule file -------------------------------------------------------------------------------


def test_packaged_rules_load_and_are_the_default() -> None:
    rules = load_signal_rules(SIGNALS_TEXT)
    assert rules == default_signal_reader().rules
    assert {s.flag for s in rules.signals} == set(RiskFlag)


def test_a_centre_extends_the_lexicon_without_code() -> None:
    assert read("对方扬言要去他家门口泼油漆").flags == frozenset()
    extended = SIGNALS_TEXT.replace("    terms: [砍人, 杀人,", "    terms: [泼油漆, 砍人, 杀人,")
    reader = SignalReader(load_signal_rules(extended))
    assert reader.read(case_texts("", "对方扬言要去他家门口泼油漆")).flags == {V}


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (("flag: self_harm_threat", "flag: self_harm"), "signals[0].flag", "unknown flag 'self_harm'"),
        (("scope: sentence", "scope: paragraph"), ".scope", "expected one of clause, sentence, text"),
        (("within: 15", "within: -1"), ".within", "expected a whole number 0 or more"),
        (('"@minor"', '"@aged"'), ".first[", "unknown placeholder '@aged'"),
        (("near_factor: 0.9", "near_factor: 1.5"), "numbers.near_factor", "at most 1"),
        (("max_quotes: 3", "max_quotes: 0"), "max_quotes", "1 or more"),
        (("  - id: violence", "  - id: self_harm"), "signals[1].id", "duplicate signal id"),
        (("version: 1", "version: 2"), "signals.version", "must be 1"),
    ],
)
def test_rule_file_errors_name_the_entry(change: tuple[str, str], where: str, problem: str) -> None:
    old, new = change
    assert old in SIGNALS_TEXT
    with pytest.raises(RuleFileError) as caught:
        load_signal_rules(SIGNALS_TEXT.replace(old, new, 1))
    assert where in caught.value.where and problem in caught.value.problem


def test_a_wrong_signals_file_is_refused_with_its_line(tmp_path: Path) -> None:
    lines = SIGNALS_TEXT.splitlines()
    at = next(i for i, line in enumerate(lines) if "flag: criminal_risk" in line)
    lines[at] = lines[at].replace("criminal_risk", "crime")
    (tmp_path / SIGNALS).write_text("\n".join(lines), "utf-8")
    with pytest.raises(RulesInvalid) as caught:
        load_assessor(tmp_path)
    error = caught.value
    assert error.file == str(tmp_path / SIGNALS) and error.line == at + 1
    assert error.where.endswith(".flag") and "crime" in error.problem


def test_a_signals_file_in_the_rules_directory_replaces_the_packaged_one(tmp_path: Path) -> None:
    (tmp_path / SIGNALS).write_text(SIGNALS_TEXT.replace("minor_below: 18", "minor_below: 6"), "utf-8")
    assessor, sources = load_assessor(tmp_path)
    assert {s.name: s.origin for s in sources}[SIGNALS] == str(tmp_path / SIGNALS)
    text = "来电人称其侄子今年7岁，昨天被困在电梯里"
    assert assessor.read_text("", text).flags == frozenset()
    assert load_assessor(None)[0].read_text("", text).flags == {P}
