"""The citizen QR form (码上监督, issue 18) on the whole hub — gateway, intake, referral and notification
over RabbitMQ, the SMS provider's loopback simulator — on SQLite and PostgreSQL:

- a wrong code and an expired code are refused on the code field, and nothing is registered (no case at
  intake, no acceptance SMS);
- a mobile asking again too soon, and an address posting too often, get 429 with Retry-After and a
  Chinese message (and no SMS);
- a verified report is registered once however often it is retried; its status page shows the state
  and the department's reply, never the reporter's name, phone, text or address; the rating is taken
  there once, and the case closes.

The same in a real browser at phone size: tests/browser/test_citizen_form.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from services.intake.tables import cases
from services.notification.domain.templates import load_default_catalog
from services.notification.tables import verifications
from tests.integration.test_referral_flow import POLICE, STREET, Api
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.sms import acceptance
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration

CODE_TEMPLATE = load_default_catalog().get("verification_code").provider_code
PHONE = "13800000000"  # the obviously synthetic test number; never logged
REPORT: dict[str, Any] = {
    "category": "public_security",
    "title": "小区门口深夜有人聚集斗殴",
    "description": "每晚十一点后在测试小区北门聚集饮酒，昨晚发生推搡，居民不敢出门。",
    "address": "白云路街道测试小区北门",
    "name": "测试居民丙",
    "phone": PHONE,
}


async def code_sent_to(hub: InProcessHub, phone: str, count: int = 1) -> str:
    """The latest verification code the SMS simulator received for `phone`, once it has `count`."""
    items = await eventually(
        hub.sms_received,
        until=lambda found: len(_codes(found, phone)) >= count,
        what=f"verification SMS #{count}",
    )
    return str(_codes(items, phone)[-1]["params"]["code"])


def _codes(items: list[dict[str, Any]], phone: str) -> list[dict[str, Any]]:
    return [m for m in items if m["template_code"] == CODE_TEMPLATE and m["phone"].endswith(phone)]


async def form_token(http: httpx.AsyncClient) -> str:
    page = await http.get(f"/report/{STREET}")
    assert page.status_code == 200, page.text
    return page.text.split('name="form_token" value="', 1)[1].split('"', 1)[0]


async def registered_cases(hub: InProcessHub) -> int:
    async with hub.runtime("intake").db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(cases))).scalar_one())


async def test_a_wrong_or_expired_code_is_refused_and_nothing_is_registered(hub: InProcessHub) -> None:
    async with http_client(base_url=hub.gateway) as http:
        token = await form_token(http)
        sent = await http.post(f"/report/{STREET}/code", json={"phone": PHONE})
        assert sent.status_code == 201, sent.text
        verification_id = sent.json()["verification_id"]
        code = await code_sent_to(hub, PHONE)
        wrong = "000000" if code != "000000" else "111111"
        body = {**REPORT, "form_token": token, "verification_id": verification_id}

        refused = await http.post(f"/report/{STREET}/cases", json={**body, "code": wrong})
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert problem["title"] == "验证码不正确" and "还可以再试 4 次" in problem["detail"]
        assert problem["errors"] == [{"field": "code", "message": problem["detail"]}]

        async with hub.runtime("notification").db.transaction() as session:  # five minutes later
            await session.execute(
                update(verifications)
                .where(verifications.c.id == verification_id)
                .values(expires_at=verifications.c.created_at)
            )
        expired = await http.post(f"/report/{STREET}/cases", json={**body, "code": code})
        assert expired.status_code == 422 and expired.json()["title"] == "验证码已过期", expired.text
        assert "重新获取" in expired.json()["detail"]

    assert await registered_cases(hub) == 0
    assert acceptance(await hub.sms_received()) == []  # no 受理告知 either


async def test_a_mobile_asking_too_soon_and_an_address_posting_too_often_get_429(hub: InProcessHub) -> None:
    async with http_client(base_url=hub.gateway) as http:
        first = await http.post(f"/report/{STREET}/code", json={"phone": PHONE})
        assert first.status_code == 201, first.text
        again = await http.post(f"/report/{STREET}/code", json={"phone": PHONE})
        assert again.status_code == 429, again.text
        assert 1 <= int(again.headers["Retry-After"]) <= 60
        assert again.json()["title"] == "获取验证码过于频繁" and "秒后再重新获取" in again.json()["detail"]
        await code_sent_to(hub, PHONE)
        assert len(_codes(await hub.sms_received(), PHONE)) == 1  # one code, not two

        # The address's bucket (HUB_CITIZEN_POST_BURST 10 at once, then 10 a minute): other mobiles
        # until it is empty; however slow the machine, a burst of 10 cannot refill faster than 1 in 6 s.
        answers = []
        for n in range(1, 30):
            answer = await http.post(f"/report/{STREET}/code", json={"phone": f"139{n:08d}"})
            answers.append(answer.status_code)
            if answer.status_code == 429:
                break
        assert answers[-1] == 429 and len(answers) >= 9 and set(answers[:-1]) == {201}, answers
        assert int(answer.headers["Retry-After"]) >= 1
        assert answer.json()["title"] == "操作过于频繁" and "秒后再试" in answer.json()["detail"]
        submit = await http.post(f"/report/{STREET}/cases", json={**REPORT, "form_token": "t" * 32})
        assert submit.status_code == 429  # the submission takes from the same bucket
    refused_phone = f"139{len(answers):08d}"
    assert not _codes(await hub.sms_received(), refused_phone)  # refused at the edge: no SMS


async def test_the_status_page_shows_the_reply_and_no_personal_data_and_rates_once(hub: InProcessHub) -> None:
    api = Api(hub)
    async with http_client(base_url=hub.gateway) as http:
        token = await form_token(http)
        sent = await http.post(f"/report/{STREET}/code", json={"phone": PHONE})
        assert sent.status_code == 201, sent.text
        body = {
            **REPORT,
            "form_token": token,
            "verification_id": sent.json()["verification_id"],
            "code": await code_sent_to(hub, PHONE),
        }
        filed = await http.post(f"/report/{STREET}/cases", json=body)
        assert filed.status_code == 201, filed.text
        retried = await http.post(f"/report/{STREET}/cases", json=body)  # the answer was lost: again
        assert retried.status_code == 200 and retried.json() == filed.json()
        case_no, link = filed.json()["case_no"], filed.json()["status_url"]
        assert await registered_cases(hub) == 1

        case = await api.case(case_no)  # registered as any case: channel web, graded (研判)
        assert case["channel"] == "web" and case["colour"] in ("red", "orange", "yellow", "blue")
        referral = (await api.dispatched(case_no))["referrals"][0]
        assert referral["department"] == POLICE
        await api.ok(referral["id"], "acknowledge", department=POLICE)
        reply = "民警已到现场劝离聚集人员，并将加强夜间巡逻。"
        await api.ok(referral["id"], "reply", {"outcome": "resolved", "summary": reply}, department=POLICE)

        page = await eventually(
            lambda: http.get(link), until=lambda r: reply in r.text, what="the reply on the status page"
        )
        assert page.status_code == 200 and case_no in page.text and "白云路" in page.text
        leaks = [REPORT["name"], PHONE, "138****", REPORT["address"], "聚集饮酒", REPORT["title"]]
        assert [leak for leak in leaks if leak in page.text] == []
        assert 'name="satisfaction"' in page.text

        rated = await http.post(f"{link}/rating", data={"satisfaction": "1"}, follow_redirects=True)
        assert rated.status_code == 200 and "您的评价：满意" in rated.text
        closed = await eventually(
            lambda: api.state(case_no),
            until=lambda s: s.get("status") == "closed",
            what="closed by the rating",
        )
        assert closed["satisfaction"] == "satisfied"
        twice = await http.post(f"{link}/rating", data={"satisfaction": "3"})
        assert twice.status_code == 409 and "只能评价一次" in twice.text
        assert (await api.state(case_no))["status"] == "closed"  # not reopened by a second rating

        listed = await http.get("/open311/v2/requests.json", params={"service_request_id": case_no})
        assert listed.status_code == 200 and listed.json()[0]["status"] == "closed"
        assert listed.json()[0]["description"] is None
        token = await http.get(f"/open311/v2/tokens/{link.rsplit('/', 1)[1]}.json")
        assert token.status_code == 200 and token.json()[0]["service_request_id"] == case_no
