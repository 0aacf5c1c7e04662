from datetime import UTC, datetime

import pytest

from services.notification.domain.segments import segment_count
from services.notification.domain.templates import (
    CatalogError,
    InvalidParameterError,
    InvalidSignatureError,
    MissingParameterError,
    ParameterTooLongError,
    ParamSpec,
    SmsTemplate,
    TemplateCatalog,
    UnexpectedParameterError,
    UnknownTemplateError,
    format_deadline,
    load_default_catalog,
    parse_catalog,
    render,
)

SIGN = "昆都仑区综治中心"
CASE_NO = "KDL-20261122-0007"

# Realistic parameters for every packaged template (from the seeds' worked cases).
REALISTIC = {
    "case_accepted": {"case_no": CASE_NO, "deadline": "2026年12月1日17:30"},
    "case_replied": {"case_no": CASE_NO, "department": "昆都仑区住房和城乡建设局"},
    "callback_invitation": {"case_no": CASE_NO},
    "referral_dispatched": {
        "case_no": CASE_NO,
        "category": "私改公共设施",
        "role": "主办",
        "ack_deadline": "2026年11月22日16:30",
    },
    "supervision_reminder": {"case_no": CASE_NO, "stage": "办理答复", "deadline": "2026年12月1日17:30"},
    "supervision_ordinary": {"case_no": CASE_NO, "stage": "办理答复", "deadline": "2026年12月1日17:30"},
    "supervision_yellow": {"case_no": CASE_NO, "stage": "办理答复", "overdue": "1个工作日"},
    "supervision_red": {"case_no": CASE_NO, "stage": "报到签收", "overdue": "3个工作日"},
    "extension_approved": {"case_no": CASE_NO, "new_deadline": "2026年12月8日17:30"},
    "extension_denied": {"case_no": CASE_NO, "deadline": "2026年12月1日17:30"},
    "task_follow_up": {"case_no": CASE_NO, "colour": "红色", "sequence": "3", "due": "2026年12月4日09:00"},
    "task_weak_signal_burst": {
        "area": "白云路街道综治中心辖区",
        "window": "24小时",
        "category": "噪声扰民",
        "count": "5",
        "case_no": CASE_NO,
    },
    "task_repeat_reporter": {"window": "30天", "count": "3", "case_no": CASE_NO},
    "verification_code": {"code": "042517", "minutes": "5"},
}


def test_every_packaged_template_has_a_realistic_fixture() -> None:
    assert {t.id for t in load_default_catalog()} == set(REALISTIC)


@pytest.mark.parametrize("template_id", sorted(REALISTIC))
def test_each_template_renders_with_realistic_params(template_id: str) -> None:
    params = REALISTIC[template_id]
    sms = render(template_id, params, SIGN)
    template = load_default_catalog().get(template_id)
    assert sms.text.startswith("【昆都仑区综治中心】")
    assert all(value in sms.text for value in params.values())
    assert "{" not in sms.text and "}" not in sms.text
    assert sms.template_code == template.provider_code
    assert sms.template_id == template_id
    assert sms.sign_name == SIGN
    assert sms.params == params
    assert sms.segments == segment_count(sms.text)


def test_acceptance_text_and_single_segment() -> None:
    sms = render("case_accepted", REALISTIC["case_accepted"], SIGN)
    assert sms.text == (
        "【昆都仑区综治中心】您反映的事项已受理，受理编号KDL-20261122-0007，"
        "我们将在2026年12月1日17:30前办理并答复您。"
    )
    assert sms.template_code == "SMS_000001"
    assert sms.segments == 1


def test_callback_invitation_offers_the_three_answers() -> None:
    sms = render("callback_invitation", {"case_no": CASE_NO}, SIGN)
    assert "回复1满意，2基本满意，3不满意" in sms.text


def test_supervision_ladder_wording() -> None:
    assert "提醒函" in render("supervision_ordinary", REALISTIC["supervision_ordinary"], SIGN).text
    yellow = render("supervision_yellow", REALISTIC["supervision_yellow"], SIGN).text
    assert "督办函" in yellow and "黄牌督办" in yellow
    assert "红牌督办" in render("supervision_red", REALISTIC["supervision_red"], SIGN).text
    assert "吹哨" in render("referral_dispatched", REALISTIC["referral_dispatched"], SIGN).text


def test_audiences() -> None:
    audiences = {t.id: t.audience for t in load_default_catalog()}
    assert {k for k, v in audiences.items() if v == "citizen"} == {
        "case_accepted",
        "case_replied",
        "callback_invitation",
        "verification_code",
    }


def test_every_template_fits_two_segments_at_maximum_parameter_lengths() -> None:
    for template in load_default_catalog():
        params = {p.name: "长" * p.max_length for p in template.params}
        assert render(template.id, params, SIGN).segments <= 2, template.id


def test_provider_codes_are_unique() -> None:
    codes = [t.provider_code for t in load_default_catalog()]
    assert len(codes) == len(set(codes))


def test_parameter_at_limit_passes_and_one_over_fails() -> None:
    render("callback_invitation", {"case_no": "K" * 20}, SIGN)
    with pytest.raises(ParameterTooLongError) as excinfo:
        render("callback_invitation", {"case_no": "K" * 21}, SIGN)
    error = excinfo.value
    assert (error.template_id, error.name, error.length, error.max_length) == (
        "callback_invitation",
        "case_no",
        21,
        20,
    )
    assert "'case_no'" in str(error) and "21" in str(error) and "20" in str(error)


def test_long_department_name_is_rejected() -> None:
    department = "内蒙古自治区包头市昆都仑区人力资源和社会保障局劳动保障监察大队第三中队办公室"
    assert len(department) > 35
    with pytest.raises(ParameterTooLongError):
        render("case_replied", {"case_no": CASE_NO, "department": department}, SIGN)


def test_missing_empty_and_unexpected_parameters() -> None:
    with pytest.raises(MissingParameterError, match="deadline"):
        render("case_accepted", {"case_no": CASE_NO}, SIGN)
    with pytest.raises(MissingParameterError, match="empty"):
        render("case_accepted", {"case_no": CASE_NO, "deadline": "  "}, SIGN)
    with pytest.raises(MissingParameterError):
        render("case_accepted", {"case_no": CASE_NO, "deadline": None}, SIGN)
    with pytest.raises(UnexpectedParameterError, match="phone"):
        render("callback_invitation", {"case_no": CASE_NO, "phone": "13800000000"}, SIGN)


def test_parameter_values_are_checked_like_a_provider_would() -> None:
    with pytest.raises(InvalidParameterError, match="【】"):
        render("callback_invitation", {"case_no": "【假冒签名】"}, SIGN)
    with pytest.raises(InvalidParameterError):
        render("callback_invitation", {"case_no": "KDL\n0007"}, SIGN)
    with pytest.raises(InvalidParameterError, match="float"):
        render("callback_invitation", {"case_no": 7.5}, SIGN)
    with pytest.raises(InvalidParameterError, match="bool"):
        render("callback_invitation", {"case_no": True}, SIGN)
    assert render("callback_invitation", {"case_no": 20261122}, SIGN).params == {"case_no": "20261122"}
    assert render("callback_invitation", {"case_no": f" {CASE_NO} "}, SIGN).params == {"case_no": CASE_NO}


def test_no_html_escaping_in_sms() -> None:
    sms = render("case_replied", {"case_no": CASE_NO, "department": "A&B<物业>公司"}, SIGN)
    assert "A&B<物业>公司" in sms.text


def test_unknown_template() -> None:
    with pytest.raises(UnknownTemplateError, match="case_vanished"):
        render("case_vanished", {}, SIGN)


@pytest.mark.parametrize("signature", ["【昆都仑区综治中心】", " 昆都仑区综治中心 "])
def test_signature_brackets_are_optional(signature: str) -> None:
    sms = render("callback_invitation", {"case_no": CASE_NO}, signature)
    assert sms.sign_name == SIGN
    assert sms.text.startswith("【昆都仑区综治中心】您")


@pytest.mark.parametrize("signature", ["", "综", "昆都仑 综治中心", "【【昆都仑区】】", "中" * 21])
def test_invalid_signatures(signature: str) -> None:
    with pytest.raises(InvalidSignatureError):
        render("callback_invitation", {"case_no": CASE_NO}, signature)


def test_provider_text_uses_provider_placeholders() -> None:
    text = load_default_catalog().provider_text("case_accepted")
    assert text == "您反映的事项已受理，受理编号${case_no}，我们将在${deadline}前办理并答复您。"
    assert load_default_catalog().provider_text("callback_invitation", "{{{name}}}").count("{case_no}") == 1


def test_format_deadline_in_business_time() -> None:
    assert format_deadline(datetime(2026, 12, 1, 9, 30, tzinfo=UTC)) == "2026年12月1日17:30"
    assert format_deadline(datetime(2026, 12, 31, 16, 5, tzinfo=UTC)) == "2027年1月1日00:05"
    with pytest.raises(ValueError, match="aware"):
        format_deadline(datetime(2026, 12, 1, 9, 30))


def _yaml(body: str, params: str = "      case_no: {max_length: 20}\n", version: str = "1") -> str:
    return (
        f"version: {version}\n"
        "templates:\n"
        "  t:\n"
        "    title: 测试\n"
        "    audience: citizen\n"
        "    provider_code: SMS_1\n"
        f"    body: {body!r}\n"
        "    params:\n"
        f"{params}"
    )


def test_parse_catalog_accepts_a_plain_template() -> None:
    catalog = parse_catalog(_yaml("编号{{ case_no }}"))
    assert "t" in catalog and len(catalog) == 1
    assert catalog.render("t", {"case_no": "A1"}, SIGN).text == "【昆都仑区综治中心】编号A1"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (_yaml("编号{{ case_no | upper }}"), "placeholders"),
        (_yaml("{% if case_no %}编号{{ case_no }}{% endif %}"), "placeholders"),
        (_yaml("{{ case_no.__class__ }}"), "placeholders"),
        (_yaml("编号{{ case_no }}{{ deadline }}"), "do not match"),
        (_yaml("没有参数"), "do not match"),
        (_yaml("编号{{ case_no "), "t"),
        (_yaml("编号{{ case_no }}", params="      case_no: 20\n"), "max_length"),
        (_yaml("编号{{ case_no }}", params="      case_no: {max_length: 0}\n"), "max_length"),
        (_yaml("编号{{ case_no }}", version="2"), "version"),
        (_yaml("编号{{ case_no }}").replace("citizen", "everyone"), "audience"),
        (_yaml("编号{{ case_no }}").replace("SMS_1", "''"), "provider_code"),
        ("templates: [", "YAML"),
        ("- 1\n", "mapping"),
    ],
)
def test_parse_catalog_rejects_what_a_provider_would_not_render(text: str, problem: str) -> None:
    with pytest.raises(CatalogError, match=problem):
        parse_catalog(text)


def test_catalog_rejects_duplicate_ids_and_codes() -> None:
    spec = (ParamSpec("case_no", 20),)
    one = SmsTemplate("a", "甲", "citizen", "SMS_1", "{{ case_no }}", spec)
    with pytest.raises(CatalogError, match="duplicate"):
        TemplateCatalog([one, one])
    other = SmsTemplate("b", "乙", "citizen", "SMS_1", "{{ case_no }}", spec)
    with pytest.raises(CatalogError, match="share provider code"):
        TemplateCatalog([one, other])


def test_explicit_catalog_overrides_the_packaged_one() -> None:
    catalog = parse_catalog(_yaml("测试{{ case_no }}"))
    assert render("t", {"case_no": "1"}, SIGN, catalog=catalog).text == "【昆都仑区综治中心】测试1"
    with pytest.raises(UnknownTemplateError):
        render("case_accepted", REALISTIC["case_accepted"], SIGN, catalog=catalog)
