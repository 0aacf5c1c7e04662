"""The citizen QR form's own rules (码上监督, issue 18), without a hub: each field's Chinese message, the
case body intake gets (channel web, the submission as source reference, anonymous without contact),
tokens a retried submit finds again, the QR code of a centre's address, and the pages as rendered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.citizen import forms
from gateway.citizen.centres import Centre
from gateway.citizen.pages import page
from gateway.citizen.qr import qr_png, qr_svg, report_url
from gateway.citizen.status import PublicStatus, Reply
from gateway.citizen.store import Filed
from gateway.open311.catalogue import catalogue

SERVICES = catalogue().services
FORM = "f" * 32
VID = "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"


def report(**overrides: object) -> forms.ReportIn:
    fields: dict[str, object] = {
        "form_token": FORM,
        "category": "noise",
        "title": "夜间施工噪声扰民",
        "description": "小区旁工地每天夜里十一点后仍在施工，噪声很大。",
        "address": "白云路街道测试小区 3 号楼",
        "name": "测试居民",
        "phone": "138 0000 0000",
        "verification_id": VID,
        "code": "123456",
    }
    fields.update(overrides)
    return forms.ReportIn.model_validate(fields)


def test_a_complete_report_has_no_errors() -> None:
    assert forms.check_report(report(), SERVICES) == []


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"category": ""}, "category", "请选择问题类别。"),
        ({"category": "unknown"}, "category", "请选择问题类别。"),
        ({"title": "  "}, "title", "请填写标题。"),
        ({"title": "长" * 41}, "title", "标题最多 40 个字（现有 41 个）。"),
        ({"description": "太吵"}, "description", "问题描述至少 5 个字（现有 2 个）。"),
        ({"address": ""}, "address", "请填写问题发生的地址。"),
        ({"name": ""}, "name", "请填写姓名（或选择匿名反映）。"),
        ({"phone": "12345"}, "phone", "请填写正确的 11 位手机号码。"),
        ({"verification_id": ""}, "code", "请先点击“获取验证码”，再填写短信中的验证码。"),
        ({"code": "12ab"}, "code", "请填写短信中的 6 位数字验证码。"),
    ],
)
def test_each_field_says_what_is_wrong_in_chinese(
    overrides: dict[str, object], field: str, message: str
) -> None:
    assert forms.check_report(report(**overrides), SERVICES) == [{"field": field, "message": message}]


def test_an_anonymous_report_needs_no_contact_nor_code() -> None:
    body = report(anonymous=True, name="", phone="", verification_id="", code="")
    assert forms.check_report(body, SERVICES) == []
    case = forms.case_body(body, SERVICES["noise"], "150203001000", forms.form_key(FORM))
    assert case["reporter"] == {"anonymous": True}


def test_the_case_body_is_a_web_case_of_the_centre() -> None:
    key = forms.form_key(FORM)
    case = forms.case_body(report(), SERVICES["noise"], "150203001000", key)
    assert case["channel"] == "web" and case["source_ref"] == f"qr-{key[:40]}"
    assert case["category"] == "noise" and case["request_type"] == "complaint"
    assert case["reporter"] == {"name": "测试居民", "phone": "13800000000"}
    assert case["location"] == {"address": "白云路街道测试小区 3 号楼", "street_code": "150203001000"}
    district = forms.case_body(report(), SERVICES["other"], "150203", key)
    assert "street_code" not in district["location"] and "category" not in district  # intake classifies


def test_mobiles_are_read_as_people_type_them() -> None:
    assert forms.mobile("+86 138-0000-0000") == "13800000000"
    assert forms.mobile("008613800000000") == "13800000000"
    assert forms.mobile("0471-1234567") is None


def test_a_retried_submission_gets_the_same_status_token() -> None:
    key = forms.form_key(FORM)
    token = forms.status_token("hash-key", key)
    assert token == forms.status_token("hash-key", forms.form_key(FORM))
    assert token != forms.status_token("hash-key", forms.form_key("g" * 32))
    assert token != forms.status_token("another-key", key)
    assert len(token) == 40 and forms.token_hash(token) != token


def test_the_qr_code_points_at_the_centres_form() -> None:
    url = report_url("https://zz.example.gov.cn/", "150203001000")
    assert url == "https://zz.example.gov.cn/report/150203001000"
    svg = qr_svg(url, "白云路街道综治中心 码上监督")
    assert svg.startswith(b"<?xml") and b"<svg" in svg and "码上监督".encode() in svg
    assert qr_png(url).startswith(b"\x89PNG\r\n\x1a\n")


def test_the_form_page_renders_every_category_and_the_form_token() -> None:
    groups: dict[str, list[object]] = {}
    for s in SERVICES.values():
        groups.setdefault(s.group, []).append(s)
    response = page(
        "report.html",
        centre=Centre("150203001000", "白云路街道综治中心"),
        groups=groups,
        form_token=FORM,
        limits={"title": 40, "description": 2000, "address": 100},
    )
    html = bytes(response.body).decode()
    assert response.status_code == 200 and "白云路街道综治中心" in html and FORM in html
    assert all(f'value="{code}"' in html for code in SERVICES)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "<script>" not in html  # only our own module file


def test_the_status_page_shows_replies_and_offers_the_rating_once() -> None:
    filed = Filed("KDL-1", "noise", "150203001000", False, datetime(2026, 12, 6, 2, tzinfo=UTC), None, None)
    status = PublicStatus(
        "KDL-1",
        "replied",
        "承办部门已答复，待回访",
        False,
        "噪声扰民",
        ["城管局"],
        [Reply("城管局", "主办", datetime(2026, 12, 6, 3, tzinfo=UTC), "已解决", "已责令工地夜间停工 <b>")],
    )
    context = {"token": "t" * 40, "filed": filed, "status": status, "submitted": "2026年12月06日 10:00"}
    replies = [{**vars(r), "when": "2026年12月06日 11:00"} for r in status.replies]
    html = bytes(page("status.html", replies=replies, rated=None, can_rate=True, **context).body).decode()
    assert "已责令工地夜间停工 &lt;b&gt;" in html  # escaped
    assert 'action="/report/status/' + "t" * 40 + '/rating"' in html
    rated = bytes(page("status.html", replies=replies, rated="满意", can_rate=False, **context).body).decode()
    assert "您的评价：满意" in rated and "rating-form" not in rated


def test_a_verification_id_is_a_uuid_never_a_path() -> None:
    with pytest.raises(ValueError):
        report(verification_id="../../opt-outs?x=")


def test_the_public_form_takes_small_bodies_only() -> None:
    from gateway.edge import body_limits
    from gateway.settings import GatewaySettings

    limits = body_limits(GatewaySettings())
    assert limits.for_path("/report/150203001000/cases") == 64 << 10
