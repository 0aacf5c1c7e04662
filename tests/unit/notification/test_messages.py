"""Which messages each event causes (pure): templates, parameters that fit, audiences per ladder step."""

from datetime import UTC, datetime, timedelta

import pytest

from services.notification.domain import messages
from services.notification.domain.templates import load_default_catalog

DUE = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # 17:30 in Beijing
SIGN = "昆都仑区综治中心"


def _renders(plan: messages.Planned) -> str:
    catalog = load_default_catalog()
    return catalog.render(plan.template, messages.fit_params(catalog, plan.template, plan.params), SIGN).text


def test_acceptance_names_the_case_and_the_deadline_in_beijing_time() -> None:
    plan = messages.acceptance("ZZ-20261122-000001", DUE)
    assert plan.template == "case_accepted" and plan.audiences == ()
    assert "受理编号ZZ-20261122-000001" in _renders(plan) and "2026年12月1日17:30前" in _renders(plan)


@pytest.mark.parametrize(("role", "zh"), [("lead", "主办"), ("assisting", "协办")])
def test_dispatch_whistle_goes_to_the_contact_and_the_system(role: str, zh: str) -> None:
    plan = messages.dispatch_whistle("ZZ-1", "public_facilities_alteration", role, DUE)
    assert plan.audiences == ("contact", "webhook")
    assert f"私改公共设施事项（编号ZZ-1）已交办贵单位{zh}" in _renders(plan)


def test_an_unknown_category_code_is_shown_as_is() -> None:
    assert messages.category_label("brand_new") == "brand_new"


@pytest.mark.parametrize(
    ("level", "overdue", "template", "audiences", "fragment"),
    [
        ("reminder", 0, "supervision_reminder", ("contact", "webhook"), "期限为2026年12月1日17:30"),
        ("ordinary", 0, "supervision_ordinary", ("contact", "head", "webhook"), "已于2026年12月1日17:30到期"),
        (
            "yellow_card",
            2,
            "supervision_yellow",
            ("contact", "head", "centre_leader", "webhook"),
            "已超期2个工作日",
        ),
        (
            "red_card",
            0,
            "supervision_red",
            ("contact", "head", "centre_leader", "political_legal_committee", "webhook"),
            "已超期3个工作日",  # no count given: the ladder's default
        ),
    ],
)
def test_each_supervision_step_has_its_letter_and_its_audience(
    level: str, overdue: int, template: str, audiences: tuple[str, ...], fragment: str
) -> None:
    plan = messages.supervision("ZZ-1", level, "handling", DUE, overdue)
    assert (plan.template, plan.audiences) == (template, audiences)
    assert fragment in _renders(plan) and "办理答复" in _renders(plan)


def test_extension_decisions() -> None:
    approved = messages.extension_decision("ZZ-1", True, DUE, None)
    denied = messages.extension_decision("ZZ-1", False, None, DUE)
    assert "延至2026年12月1日17:30" in _renders(approved)
    assert "未获批准，请于原期限2026年12月1日17:30前办结" in _renders(denied)
    with pytest.raises(ValueError):
        messages.extension_decision("ZZ-1", True, None, DUE)
    with pytest.raises(ValueError):
        messages.extension_decision("ZZ-1", False, DUE, None)


def test_reply_notice_comes_before_the_callback_invitation() -> None:
    notice, invitation = messages.replied("ZZ-1", "昆都仑区住房和城乡建设局")
    assert (notice.template, invitation.template) == ("case_replied", "callback_invitation")
    assert "回复1满意，2基本满意，3不满意" in _renders(invitation)


def test_values_over_the_providers_limit_are_shortened_with_an_ellipsis() -> None:
    catalog = load_default_catalog()
    long_name = "包头市昆都仑区城市管理综合执法局白云路街道执法中队（夜间施工噪声扰民专项整治工作组）"
    fitted = messages.fit_params(catalog, "case_replied", {"case_no": "ZZ-1", "department": long_name})
    assert len(fitted["department"]) == 35 and fitted["department"].endswith("…")
    assert fitted["case_no"] == "ZZ-1"


def test_a_follow_up_task_says_which_case_which_visit_and_since_when() -> None:
    plan = messages.task(
        "follow_up", case_no="ZZ-20261122-000001", due_at=DUE, case_count=1, colour="red", sequence=3
    )
    assert plan.template == "task_follow_up" and plan.audiences == ("contact", "webhook")
    assert _renders(plan) == (
        "【昆都仑区综治中心】回访提醒：已办结红色事项（编号ZZ-20261122-000001）第3次回访于"
        "2026年12月1日17:30到期，请回访后在平台标记完成。"
    )


def test_a_burst_task_says_where_how_many_and_within_what_window() -> None:
    start = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    grid = messages.task(
        "weak_signal_burst",
        case_no="ZZ-20261201-000009",
        due_at=DUE,
        case_count=5,
        category="noise",
        window_start=start,
        window_end=start + timedelta(minutes=1440),
        scope="grid",
        area="G-0101",
    )
    assert "网格G-0101，24小时内噪声扰民事项已达5件（最新编号ZZ-20261201-000009）" in _renders(grid)
    street = messages.task(
        "weak_signal_burst",
        case_no="ZZ-20261201-000009",
        due_at=DUE,
        case_count=6,
        category="noise",
        window_start=start,
        window_end=start + timedelta(days=3),
        scope="street",
        area="150203001000",
        area_name="白云路街道综治中心",
    )
    assert "白云路街道综治中心辖区，3天内噪声扰民事项已达6件" in _renders(street)


def test_a_repeat_reporter_task_names_no_one() -> None:
    start = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    plan = messages.task(
        "repeat_reporter",
        case_no="ZZ-20261201-000009",
        due_at=DUE,
        case_count=3,
        window_start=start,
        window_end=start + timedelta(days=30),
    )
    assert _renders(plan) == (
        "【昆都仑区综治中心】弱信号预警：同一反映人30天内已反映3件事项（最新编号ZZ-20261201-000009），"
        "请登录平台关注研判。"
    )


@pytest.mark.parametrize(
    ("minutes", "label"), [(30 * 24 * 60, "30天"), (1440, "24小时"), (120, "2小时"), (90, "90分钟")]
)
def test_windows_are_said_the_way_people_say_them(minutes: int, label: str) -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    assert messages.window_label(start, start + timedelta(minutes=minutes)) == label
