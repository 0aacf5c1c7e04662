import pytest

from services.notification.domain.replies import Satisfaction, parse_reply


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", Satisfaction.SATISFIED),
        ("１", Satisfaction.SATISFIED),
        (" 1 ", Satisfaction.SATISFIED),
        ("1。", Satisfaction.SATISFIED),
        ("1!", Satisfaction.SATISFIED),
        ("满意", Satisfaction.SATISFIED),
        ("满意！", Satisfaction.SATISFIED),
        ("非常满意👍", Satisfaction.SATISFIED),
        ("1满意", Satisfaction.SATISFIED),
        ("2", Satisfaction.BASICALLY_SATISFIED),
        ("２", Satisfaction.BASICALLY_SATISFIED),
        ("基本满意", Satisfaction.BASICALLY_SATISFIED),
        ("2、基本满意。", Satisfaction.BASICALLY_SATISFIED),
        ("3", Satisfaction.DISSATISFIED),
        ("３\n", Satisfaction.DISSATISFIED),
        ("不满意", Satisfaction.DISSATISFIED),
        ("不满意。。。", Satisfaction.DISSATISFIED),
        ("\u3000不满意！", Satisfaction.DISSATISFIED),
        ("3 不满意", Satisfaction.DISSATISFIED),
        ("非常不满意", Satisfaction.DISSATISFIED),
    ],
)
def test_recognised_replies(text: str, expected: Satisfaction) -> None:
    assert parse_reply(text) is expected


def test_dissatisfied_is_not_mistaken_for_satisfied() -> None:
    # "不满意" contains "满意": a substring match would invert the citizen's answer.
    assert parse_reply("不满意") is Satisfaction.DISSATISFIED
    assert parse_reply("满意") is Satisfaction.SATISFIED


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "4",
        "0",
        "11",
        "12",
        "1不满意",  # digit and word disagree: let staff decide
        "3满意",
        "不太满意",
        "还行吧",
        "问题还没解决，请再来看看",
        "我对处理结果不满意，楼上还在漏水",
        "满意 不满意",
        "TD",
    ],
)
def test_unrecognised_replies(text: str) -> None:
    assert parse_reply(text) is None


def test_values_are_the_api_strings() -> None:
    assert [s.value for s in Satisfaction] == ["satisfied", "basically_satisfied", "dissatisfied"]


@pytest.mark.parametrize("text", ["TD", "td", "ＴＤ", " T ", "退订", "退订。"])
def test_opt_out_keywords(text: str) -> None:
    from services.notification.domain.replies import is_opt_out

    assert is_opt_out(text)


@pytest.mark.parametrize("text", ["3", "TD退订吧", "不要再发了", "TDD", ""])
def test_anything_else_is_not_an_opt_out(text: str) -> None:
    from services.notification.domain.replies import is_opt_out

    assert not is_opt_out(text)
