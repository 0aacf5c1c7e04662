"""The counts a report's words give: people involved ("45名农民工", "张某、李某、赵某", "整栋楼…都停水了"),
amounts ("20万元", "每人…9万元" × the people read) and earlier reports of the same matter ("第三次反映",
"已反映过两次", "多次投诉"). Each reader yields every (value, evidence) it finds; the largest wins
(signals.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

from .numerals import CN_NUMERAL_CHARS, number_value
from .signal_evidence import Evidence
from .signal_filters import NearMisses
from .signal_numbers import NumberReader, shown
from .signal_rules import AmountWords, PeopleWords, SignalRules
from .signal_text import PreparedText, Span, alternation, finder

MAX_PEOPLE = 100_000  # as the case body allows (domain/model.py)
MAX_AMOUNT = Decimal("1000000000000")

Found = tuple[Decimal, Evidence]


class PeopleCounter:
    """Head counts under one PeopleWords (patterns compiled once)."""

    def __init__(self, people: PeopleWords, numbers: NumberReader) -> None:
        self.words = people
        self._numbers = numbers
        nouns = f"(?:{alternation(people.nouns)})" if people.nouns else "(?!)"
        # A noun for people after a counting word: listed, or up to three characters ending in a
        # character of `noun_endings` ("十几个商贩").
        endings = f"[\\u4e00-\\u9fff]{{0,2}}?[{re.escape(people.noun_endings)}]"
        counted = f"|(?:{alternation(people.counters)})(?:{nouns}|{endings})" if people.counters else ""
        self._people = re.compile(
            f"{numbers.pattern}(?P<unit>(?:{alternation(people.measures)})(?:{nouns})?{counted})"
        )
        self._background = re.compile(alternation(people.background)) if people.background else None
        # "张某、李某、赵某": parties named one by one (a surname and a mark), joined into a list.
        name = f"[\\u4e00-\\u9fff](?:{alternation(people.named_marks)})" if people.named_marks else "(?!)"
        self._name = re.compile(name)
        self._named = re.compile(f"{name}(?:[{re.escape(people.named_joiners)}]{name})+")
        self._collective = finder(word for word, _ in people.collectives)
        self._collective_value = dict(people.collectives)
        self._collective_involved = finder(people.collective_involved)
        self._involved = finder(people.involved)
        self._not_after = finder(people.not_after)
        self._not_before = re.compile(f"(?:{alternation(people.not_before)})$") if people.not_before else None

    def people_in(self, text: PreparedText) -> Iterator[Found]:
        numbers = self._numbers
        for match, pre, at in numbers.numbers(text, self._people):
            if self._not_after and self._not_after.match(text.text, match.start("unit")):
                continue
            read = numbers.value(text, match, pre, at)
            if read is None or read[0] < 1:
                continue
            value, start = read
            if self._not_before and self._not_before.search(text.text, max(0, start - 4), start):
                continue
            if (
                self._background
                and self._background.search(text.text, max(0, start - 5), start)
                and not (
                    self._involved
                    and self._involved.search(text.text, match.end(), text.end_of(match.end() - 1, "clause"))
                )
            ):
                continue  # "单位有300多名员工，只有他一个人…": the setting, not the people involved
            start, extra = self._one_more(text, start)
            yield self._head_count(text, (start, match.end()), min(int(value) + extra, MAX_PEOPLE))
        for match in self._named.finditer(text.text):
            yield self._head_count(text, match.span(), len(set(self._name.findall(match.group()))))
        if self._collective is not None:
            for match in self._collective.finditer(text.text):
                # "整栋楼都停水了": the whole building is involved; "全村都通了自来水" says no trouble.
                end = text.end_of(match.start(), "clause")
                if self._collective_involved and self._collective_involved.search(
                    text.text, match.end(), end
                ):
                    yield self._head_count(text, match.span(), self._collective_value[match.group()])

    def _head_count(self, text: PreparedText, span: Span, count: int) -> Found:
        quote = text.part.text[span[0] : span[1]]
        return (
            Decimal(count),
            Evidence(
                fact="people_involved",
                value=count,
                signal="people",
                quote=quote,
                spans=[text.span(span)],
                reason_zh=f"文本含“{quote}”：{self.words.reason_zh}按{count}人计",
            ),
        )

    def _one_more(self, text: PreparedText, start: int) -> tuple[int, int]:
        """ "另外9名工友", "我和两个老乡": the people counted are besides someone, who is involved too.
        Returns where the quote starts and the one more (0 or 1)."""
        people = self.words
        for word in people.others:
            if text.text.endswith(word, 0, start):
                return start - len(word), 1
        for word in people.together:
            at = start - len(word)
            if text.text.endswith(word, 0, start) and any(
                subject in text.text[max(0, at - 4) : at] for subject in people.subjects
            ):
                return at, 1
        return start, 0


class AmountReader:
    """Amounts of money under one AmountWords (patterns compiled once)."""

    def __init__(self, amounts: AmountWords, numbers: NumberReader) -> None:
        self.words = amounts
        self._numbers = numbers
        self._amount = re.compile(f"{numbers.pattern}(?P<cur>{alternation(amounts.currency)})?")
        self._not_money = finder(amounts.not_followed_by)
        self._per_person = finder(amounts.per_person)

    def amounts_in(self, text: PreparedText, people: int | None) -> Iterator[Found]:
        """Each amount; one said per person ("每人…9万元") is multiplied by the `people` read."""
        amounts = self.words
        numbers = self._numbers
        for match, pre, at in numbers.numbers(text, self._amount):
            end = match.end()
            if not match.group("cur") and not any(
                ch in "万亿" for ch in match.group("body") + (match.group("mag") or "")
            ):
                continue  # a bare number is money only with a currency word
            if self._not_money and self._not_money.match(text.text, end):
                continue
            read = numbers.value(text, match, pre, at)
            if read is None or read[0] <= 0:
                continue
            value, start = read
            spans: list[Span] = [(start, end)]
            each = ""
            per = (
                self._per_person.search(text.text, max(0, start - amounts.per_person_within), start)
                if (self._per_person and people and people > 1)
                else None
            )
            if (
                per is not None
                and people
                and text.scope_id(per.start(), "clause") == text.scope_id(start, "clause")
            ):
                each = f"每人{shown(value)}元×{people}人="
                value *= people
                spans.insert(0, per.span())
            value = min(value, MAX_AMOUNT).quantize(Decimal("0.01")).normalize()
            amount = shown(value)
            quote = text.quote(spans)
            yield (
                value,
                Evidence(
                    fact="amount_yuan",
                    value=amount,
                    signal="amount",
                    quote=quote,
                    spans=[text.span(span) for span in spans],
                    reason_zh=f"文本含“{quote}”：{amounts.reason_zh}按{each}{amount}元计",
                ),
            )


class RepeatCounter:
    """Earlier reports of the same matter, under one SignalRules' RepeatWords (patterns compiled once)."""

    def __init__(self, rules: SignalRules, near_misses: NearMisses) -> None:
        rep = self.words = rules.repeats
        self._vague_digit = rules.numbers.vague_digit
        self._near_misses = near_misses
        boundary = re.escape(rules.clause_marks)
        gap = (
            f"(?:(?:{alternation(rep.fillers)}){{0,3}}"
            + (f"|(?:{alternation(rep.lead_ins)})[^{boundary}]{{0,{rep.within}}}?" if rep.lead_ins else "")
            + ")"
        )
        count = f"(?P<n>\\d+|[{CN_NUMERAL_CHARS}]+)"
        verbs = f"(?:{alternation(rep.verbs)})"
        units = f"(?:{alternation(rep.units)})"
        # (pattern, how many earlier reports it says: "ordinal" N-1, "after" N, "again" 1, "several")
        forms: list[tuple[str, str]] = [
            (f"第{count}{units}{gap}{verbs}", "ordinal"),  # 第三次反映: the third
            (f"{count}{units}{gap}{verbs}", "ordinal"),  # 三次来电: three, this one included
            (f"{verbs}(?:了|过)?{count}(?:多|余)?{units}", "after"),  # 已反映过两次: two before this
        ]
        if rep.again:
            forms.append((f"(?:{alternation(rep.again)}){gap}{verbs}", "again"))
        if rep.again_phrases:
            forms.append((alternation(rep.again_phrases), "again"))
        if rep.past:  # "之前打过12345反映过", "上个星期反映过", "之前也打过电话": one report before this one
            done = [verb for verb in rep.verbs if "过" in verb]  # verbs that already say it is past
            past_verb = f"{verbs}过" + (f"|{alternation(done)}" if done else "")
            forms.append(
                (f"(?:{alternation(rep.past)})[^{boundary}]{{0,{rep.within}}}?(?:{past_verb})", "again")
            )
        if rep.several:
            several = alternation(rep.several)
            forms += [
                (f"(?:{several}){gap}{verbs}", "several"),
                # "反映过好几次", "来过中心好几次": the place may stand between
                (f"{verbs}(?:了|过)?[^{boundary}]{{0,{rep.object_within}}}?(?:{several})", "several"),
            ]
        self._repeats = [(re.compile(form), kind) for form, kind in forms]
        self._other_party = finder(rep.other_party)
        self._addressed = (
            re.compile(f"(?:给|向|找)(?:{alternation(rep.other_party)})") if rep.other_party else None
        )

    def repeats_in(self, text: PreparedText) -> Iterator[Found]:
        rep = self.words
        found: list[tuple[Span, int]] = []
        for pattern, kind in self._repeats:
            for match in pattern.finditer(text.text):
                if kind == "again":
                    earlier = 1
                elif kind == "several":
                    earlier = rep.several_times - 1
                else:
                    value = number_value(match.group("n"), self._vague_digit)
                    if value is None:
                        continue
                    earlier = int(value) - (1 if kind == "ordinal" else 0)
                if earlier < 1 or self._near_misses.negated(text, match.span()):
                    continue
                if self._to_other_party(text, match):
                    continue  # "多次向物业反映", "给物业打了十几次电话": not reports to the hub
                found.append((match.span(), earlier))
        for span, earlier in _largest_of_overlapping(found):
            quote = text.part.text[span[0] : span[1]]
            yield (
                Decimal(earlier),
                Evidence(
                    fact="repeat_count_30d",
                    value=earlier,
                    signal="repeat",
                    quote=quote,
                    spans=[text.span(span)],
                    reason_zh=f"文本含“{quote}”：{rep.reason_zh}，此前至少已反映{earlier}次",
                ),
            )

    def _to_other_party(self, text: PreparedText, match: re.Match[str]) -> bool:
        """The reports were made to the other party: named in or just before the words, or addressed
        just after them ("多次打电话给物业"; not "反映邻居在楼道堆物", where the neighbour is the matter)."""
        if self._other_party is None:
            return False
        start, end = text.start_of(match.start(), "clause"), text.end_of(match.start(), "clause")
        if self._other_party.search(text.text, max(start, match.start() - 6), match.end()):
            return True
        return self._addressed is not None and bool(
            self._addressed.match(text.text, match.end(), min(end, match.end() + 6))
        )


def _largest_of_overlapping(found: list[tuple[Span, int]]) -> list[tuple[Span, int]]:
    """One reading per run of overlapping words. Words inside a longer reading's are part of it
    ("第三次反映" is not also "三次反映", "三番五次打热线" not "五次打热线"); of readings that only
    overlap, the one that says the most ("之前已经反映过两次": 反映过两次, two earlier reports, not
    之前…反映过, one)."""
    whole = [
        (span, earlier)
        for span, earlier in found
        if not any(other[0] <= span[0] and span[1] <= other[1] and other != span for other, _ in found)
    ]
    kept: list[tuple[Span, int]] = []
    run_end = -1
    for span, earlier in sorted(whole, key=lambda item: (item[0][0], -item[0][1])):
        if kept and span[0] < run_end:
            run_end = max(run_end, span[1])
            if earlier > kept[-1][1]:
                kept[-1] = (span, earlier)
            continue
        kept.append((span, earlier))
        run_end = span[1]
    return kept
