"""Text signals: what a report's words say (people, amounts, repeats, risk flags), negation, near
misses, and the evidence each fact carries; the rule file's errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.datafile import DataFileError
from services.intake.domain.enums import RiskFlag
from services.intake.domain.numerals import number_value
from services.intake.domain.resources import read_rule_text
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


# --- generalisation: the same facts in other words (phrases written for these tests, not the corpus) ---


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        # a threat cue, then harm in everyday words
        ("对方放话说要找人卸了他的胳膊", {V}),
        ("对方声称要叫一帮兄弟过来收拾我们", {V}),
        ("邻居扬言要把我家的车砸了", {V}),
        ("那人临走时放下一句话：你给我等着，迟早收拾你", {V}),
        ("保安队长恐吓业主，说晚上出门小心点", {V}),
        # a condition and its consequence: 不/再/敢/如果 … 就 …
        ("他说不给钱就让他们好看", {V}),
        ("债主说三天内不还钱就把他家房子点了", {V}),
        ("包工头威胁说谁再来要钱就打断谁的腿", {V}),
        ("前夫发短信说再敢报警就让她见血", {V}),
        ("对方在微信上说，敢去派出所报案就弄残他", {V}),
        ("业主说物业再不退钱，他就带人把物业办公室砸了", {V}),
        ("工人们扬言不发工资就去堵高速", {M}),
        ("老板要是不给钱，我就从这楼上跳下去", {S}),
        ("老人称子女不给赡养费，再这样下去他只能去死", {S}),
        # resignation
        ("来电人称大不了一起死", {V}),
        ("欠款人说要钱没有，要命一条，逼急了就跟你拼", {V}),
        # extreme means readied, in either order
        ("他已经买好汽油，说要去开发商那里", {V}),
        ("汽油都准备好了，就等着去找他们", {V}),
        # self-harm in other words
        ("男子说这条命不要了也要讨个公道", {S}),
        ("她说活着没意思，想一了百了", {S}),
        ("小伙子坐在桥的栏杆上，说女朋友跟人跑了不想活", {S}),
        ("当事人爬到了小区水塔上面，不肯下来", {S}),
        ("来电人称和对象分手后对方天天发信息说要死给她看", {S}),
    ],
)
def test_threats_in_other_words(text: str, flags: set[RiskFlag]) -> None:
    assert read(text).flags == frozenset(flags)


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("有人在业主群里召集大家周六到街道办门口讨说法", {M}),
        ("村民们约了明天一起去镇政府", {M}),
        ("业主们自发组织起来，准备周末去区政府反映问题", {M}),
        ("他号召全村的人去把路堵上", {M}),
        ("几十个工人把开发商的大门堵住了", {M}),
        ("三十多名家长堵在教育局门口", {M}),
        ("一伙人拉着“还我血汗钱”的牌子在售楼处门前", {M}),
        ("家长们在校门口聚集，要求学校给个说法", {M}),
        ("维权群里正在统计明天去市里的人数，已经有人报名", {M}),
        ("十几名业主在售楼处静坐", {M}),
        ("大家商量着下周一起去住建局门口坐着，直到给钱为止", {M}),
        ("听说明天全村的人要去镇上讨说法", {M}),
        ("两人在楼道里扭打在一起，一方鼻子见血", {C}),
        ("对方拎着木棍冲进店里", {C}),
        ("双方推搡中老人摔倒在地", {C}),
        ("他被对方按在地上打", {C}),
        ("丈夫喝醉后掐住她的脖子", {C}),
        ("房东带了四五个人把租户的东西扔出来，还推了租户一把", {C}),
        ("丈夫经常打她，这次把她打得住了院", {C}),
        ("男子将前妻拖进车里强行带走", {C}),
        ("店主与顾客发生冲突，顾客头部被砸出一个口子", {C}),
        ("独居的王奶奶家燃气管漏气，老人腿脚不便出不了门", {P}),
        ("孤寡老人家里停电三天，晚上只能摸黑", {P}),
        ("一个残疾人的家被强拆，现在没地方住", {P}),
        ("独居老人被骗子上门纠缠，逼着他买保健品", {P}),
        ("瘫痪在床的老人，保姆走了没人喂饭", {P}),
        ("来电人称邻居家的狗把她八岁的女儿腿咬破了", {P}),
        ("八十岁的孤寡老人屋顶塌了一角，晚上睡觉漏风", {P}),
        ("双目失明的张大爷在楼道里摔断了腿", {P}),
        ("楼上住着一位坐轮椅的老人，电梯坏了已经半个月没下过楼", {P}),
        ("母亲八十多岁一个人住，家里的暖气一直不热，老人冻得睡不着", {P}),
        ("物业把他家的水停了，家里有一个刚满月的婴儿，没水没法洗奶瓶", {P}),
    ],
)
def test_gatherings_fights_and_endangered_people_in_other_words(text: str, flags: set[RiskFlag]) -> None:
    assert read(text).flags == frozenset(flags)


@pytest.mark.parametrize(
    "text",
    [
        # a frame without harm, or harm words without a frame
        "他说不满意就去法院起诉",
        "物业再不修电梯，他就拒交物业费",
        "老板说不给钱就去劳动仲裁",
        "再不来修，我们就自己找人修了",
        "对方扬言要去消协投诉",
        "他说要吸取教训，以后按时交费",
        "他说要点了外卖再走",
        "他说要和兄弟一起去吃饭",
        "他扬言要跳槽到对面公司",
        "不开空调就热死了",
        "不舒服就吃药",
        "她说要打扮得好看一点",
        "店家声称要打折促销",
        "他说要把门口的落叶烧了",
        "司机说要先卸货再走",
        "工资再不发，我们一家都活不下去了",
        "楼上吵得我们没法活了",
        "约了朋友一起去吃饭，路上堵车",
        "大家可以通过信访渠道反映",
        "物业组织保洁人员在大门口清理垃圾",
        "工人扛着钢管进了工地",
        "装修师傅用锤子砸墙",
        "鱼刺卡在喉咙里",
        "孩子说再不给买手机就不理我了",
        "我们约了明天一起去吃饭",
        # crowds, banners and tools that are not gatherings or fights
        "社区组织志愿者到街道参加培训",
        "员工拉横幅庆祝公司成立十周年",
        "楼下棋牌室每天有很多人聚在门口抽烟聊天",
        "双方吵了几句，没有推搡",
        "邻居拿刀在院子里杀鸡",
        "居民拿着铁锹在小区里种菜",
        "用砖头垫了一下桌脚",
        # vulnerable people mentioned, not endangered
        "老人和儿子一起住，家里很安全",
        "残疾人补贴什么时候发放",
        "独居老人申请居家养老服务",
        "孕妇想咨询产假怎么休",
        "楼上孩子跑跳声音大",
        # a supposition, and a rumour found untrue
        "万一孩子在小区摔伤了，物业负责吗",
        "假如以后发生打架，谁来负责",
        "听说有人要堵路，经核实是谣言",
        "群里传言有人要去政府闹事，后来核实没有这回事",
    ],
)
def test_near_misses_in_other_words_fire_nothing(text: str) -> None:
    assert read(text).flags == frozenset()


def test_a_threat_frame_is_quoted_with_its_words() -> None:
    facts = read("老人被骗买保健品，对方又上门逼他交钱，说不交就把他家砸了")
    [evidence] = facts.evidence["flags.violence_threat"]
    assert evidence.quote == "不…就把…砸了"
    assert [s.text for s in evidence.spans] == ["不", "就把", "砸了"]


def test_a_negated_threat_frame_does_not_fire() -> None:
    assert read("他并没有说不给钱就砸了他家").flags == frozenset()
    assert read("对方没有扬言要收拾他").flags == frozenset()


def test_a_rumour_stands_until_the_text_refutes_it() -> None:
    assert read("前几天居民中传言工人要去堵路讨薪").flags == {M}
    text = "前几天居民中传言工人要去堵路讨薪，经与项目部核实，工资已发放，工人表示没有这回事。"
    assert read(text).flags == frozenset()


def test_a_supposition_cancels_events_but_not_threats() -> None:
    assert read("万一孩子在学校摔伤了，学校要承担什么责任").flags == frozenset()
    assert read("孩子在学校摔伤了，学校要承担什么责任").flags == {P}
    assert read("他说万一拿不到钱就从楼上跳下去").flags == {S}  # threats are suppositions by nature


@pytest.mark.parametrize(
    ("text", "people"),
    [
        ("几十户村民", 20),
        ("一百多户", 100),
        ("上千名投资人", 1000),
        ("两百余名业主", 200),
        ("七八十户", 70),
        ("二十来个工人", 20),
        ("三四十户居民", 30),
        ("一百五六十人", 150),
        ("一二十个工人", 10),
        ("原告吴某诉被告张某、李某、赵某借款纠纷", 3),  # parties named one by one
        ("整栋楼的住户都停水了", 10),  # a whole building involved
        ("全村的人都签了名", 30),
    ],
)
def test_people_in_other_notations(text: str, people: int) -> None:
    assert read(text).people_involved == people


@pytest.mark.parametrize(
    "text",
    ["全村都通了自来水，感谢政府", "整栋楼外墙刚刷过", "被告王某与原告李某", "整个小区都停电了"],
)
def test_a_whole_building_or_two_names_are_no_head_count(text: str) -> None:
    people = read(text).people_involved
    assert people is None or people < 3


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("欠款几十万", "200000"),
        ("一百二十余万元", "1200000"),
        ("涉案1.2亿", "120000000"),
        ("借了三万五", "35000"),
        ("欠款两百多万", "2000000"),
        ("工程款三百来万", "3000000"),
        ("损失约三四十万元", "300000"),
        ("十来万块钱", "100000"),
    ],
)
def test_amounts_in_other_notations(text: str, amount: str) -> None:
    assert read(text).amount_yuan == Decimal(amount)


@pytest.mark.parametrize(
    ("text", "earlier"),
    [
        ("这是第三次留言了", 2),
        ("这已经是我第五次打电话了", 4),
        ("我又一次打电话反映", 1),
        ("已经多次反映，一直没人管", 2),
        ("前前后后打了四五次电话", 4),
        ("来过中心好几次", 2),
        ("三番五次打热线", 2),
        ("上个月也反映过这个事", 1),
        ("小区东门的路灯坏了两个月了，之前也打过电话", 1),
    ],
)
def test_repeats_in_other_words(text: str, earlier: int) -> None:
    assert read(text).repeat_count == earlier


def test_nobody_acting_is_not_a_repeat() -> None:
    # The labels count reports to the hub; a complaint that nothing happened says nothing of them.
    assert read("楼道灯坏了一直没人管").repeat_count is None


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


def test_a_centre_extends_what_a_threat_may_say_without_code() -> None:
    text = "对方说不给钱就去他家门口泼油漆"
    assert read(text).flags == frozenset()
    extended = SIGNALS_TEXT.replace("    threatened: [你好看,", "    threatened: [泼油漆, 你好看,")
    reader = SignalReader(load_signal_rules(extended))
    assert reader.read(case_texts("", text)).flags == {V}


def test_a_signals_file_written_before_threat_frames_still_loads() -> None:
    # A centre's own signals.yaml from the first release has none of the later sections.
    data = yaml.safe_load(SIGNALS_TEXT)
    del data["hypothetical"], data["threats"], data["hearsay"]["refuted"]
    del data["people"]["named"], data["people"]["collectives"], data["repeats"]["object_within"]
    for signal in data["signals"]:
        signal.pop("threatened", None)
        signal.pop("hypothetical", None)
    reader = SignalReader(load_signal_rules(yaml.safe_dump(data, allow_unicode=True)))
    assert reader.rules.threats.cues == () and reader.rules.people.collectives == ()
    assert reader.read(case_texts("", "对方扬言要拿刀砍人")).flags == {V, C}
    assert reader.read(case_texts("", "说不交就把他家砸了")).flags == frozenset()


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (("flag: self_harm_threat", "flag: self_harm"), "signals[0].flag", "unknown flag 'self_harm'"),
        (("scope: sentence", "scope: paragraph"), ".scope", "expected one of clause, sentence, text"),
        (("        within: 15", "        within: -1"), ".within", "expected a whole number 0 or more"),
        (('"@minor"', '"@aged"'), ".first[", "unknown placeholder '@aged'"),
        (("near_factor: 0.9", "near_factor: 1.5"), "numbers.near_factor", "at most 1"),
        (("max_quotes: 3", "max_quotes: 0"), "max_quotes", "1 or more"),
        (("  - id: violence", "  - id: self_harm"), "signals[1].id", "duplicate signal id"),
        (("version: 1", "version: 2"), "signals.version", "must be 1"),
        (("    hypothetical: ignore\n", "    hypothetical: maybe\n"), ".hypothetical", "one of keep, ignore"),
        (("condition_within: 15", "condition_within: -1"), "threats.condition_within", "0 or more"),
        (("整栋楼: 10", "整栋楼: 0"), "people.collectives.words.整栋楼", "1 or more"),
    ],
)
def test_rule_file_errors_name_the_entry(change: tuple[str, str], where: str, problem: str) -> None:
    old, new = change
    assert old in SIGNALS_TEXT
    with pytest.raises(DataFileError) as caught:
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
