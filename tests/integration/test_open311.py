"""Open311 GeoReport v2 at /open311/v2: a third-party Open311 client (PyPI `georeport`) reads services
and requests in JSON and XML; filing is raw form-encoded HTTP as the spec shows it (`georeport` does
not file requests), in both formats, with the spec's errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
import yaml
from georeport import GeoReport

from gateway.auth import NewClient
from gateway.open311.catalogue import CATALOGUE_FILE
from tests.kit.auth import auth_headers, authed_hub, create_client
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.waiting import eventually

__all__ = ["authed_hub"]  # a fixture: pytest finds it under this name in the module

ROOT = Path(__file__).resolve().parents[2]
JURISDICTION = "150203"
FILING = {
    "jurisdiction_id": JURISDICTION,
    "service_code": "noise",
    "address_string": "昆都仑区钢铁大街某小区5栋",
    "address_id": "150203001000",  # the street's statistical division code: routes to its units
    "description": "楼下饭店排风机夜间噪声扰民，持续两个月\n已多次反映",
    "first_name": "女士",
    "last_name": "李",
    "phone": "13912345678",
    "email": "someone@example.com",
    "attribute[people_involved]": "12",
}


def client_for(hub: InProcessHub, fmt: str) -> GeoReport:
    return GeoReport(f"{hub.gateway}/open311/v2", jurisdiction=JURISDICTION, output_format=fmt)


async def open311_key(hub: InProcessHub) -> NewClient:
    return await create_client(hub, "adapter", system="open311")


async def file_request(hub: InProcessHub, fmt: str, form: dict[str, str]) -> httpx.Response:
    async with http_client() as http:
        return await http.post(f"{hub.gateway}/open311/v2/requests.{fmt}", data=form, timeout=30)


def test_the_service_list_is_intakes_category_list() -> None:
    ours = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))["services"]
    intake = yaml.safe_load((ROOT / "services/intake/rules/categories.yaml").read_text(encoding="utf-8"))
    assert {s["service_code"]: s["service_name"] for s in ours} == {
        c["code"]: c["label_zh"] for c in intake["categories"]
    }


async def test_an_open311_client_reads_services_and_definitions_in_json_and_xml(
    authed_hub: InProcessHub,
) -> None:
    as_json, as_xml = client_for(authed_hub, "json"), client_for(authed_hub, "xml")
    services = await asyncio.to_thread(as_json.get_service_list)
    assert len(services) == 16 and {"service_code", "service_name", "metadata", "type", "group"} <= set(
        services[0]
    )
    noise = next(s for s in services if s["service_code"] == "noise")
    assert noise["service_name"] == "噪声扰民" and noise["metadata"] is True and noise["type"] == "realtime"
    xml_services = await asyncio.to_thread(as_xml.get_service_list)
    assert [s["service_code"] for s in xml_services] == [s["service_code"] for s in services]
    assert next(s for s in xml_services if s["service_code"] == "noise")["metadata"] == "true"

    definition = await asyncio.to_thread(as_json.get_service_definition, "labour")
    assert definition["service_code"] == "labour"
    assert [a["code"] for a in definition["attributes"]] == ["people_involved", "amount_yuan"]
    assert definition["attributes"][0]["datatype"] == "number" and definition["attributes"][0]["order"] == 1
    xml_definition = await asyncio.to_thread(as_xml.get_service_definition, "labour")
    assert [a["code"] for a in xml_definition["attributes"]["attribute"]] == [
        "people_involved",
        "amount_yuan",
    ]


async def test_file_a_request_and_follow_it_in_json_and_xml(authed_hub: InProcessHub) -> None:
    hub = authed_hub
    key = await open311_key(hub)
    filed = await file_request(hub, "json", {**FILING, "api_key": key.api_key})
    assert filed.status_code == 201, filed.text
    [answer] = filed.json()
    first = answer["service_request_id"]
    assert first.startswith("ZZ-") and answer["service_notice"] and answer["account_id"] is None

    filed_xml = await file_request(
        hub, "xml", {**FILING, "api_key": key.api_key, "service_code": "sanitation", "phone": "13912345679"}
    )
    assert filed_xml.status_code == 201 and filed_xml.headers["content-type"].startswith("text/xml")
    assert filed_xml.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    second = parse_xml(filed_xml.content).findtext("request/service_request_id")
    assert second and second.startswith("ZZ-") and second != first

    # The hub graded and routed it like any case: 12 people involved → orange.
    async with http_client() as http:
        case = (await http.get(f"{hub.gateway}/api/v1/cases/{first}", headers=await auth_headers(hub))).json()
    assert case["channel"] == "web" and case["category"] == "noise" and case["colour"] == "orange"

    as_json, as_xml = client_for(hub, "json"), client_for(hub, "xml")

    async def followed() -> dict[str, Any]:
        request: dict[str, Any] = await asyncio.to_thread(as_json.get_service_request, first)
        return request

    request = await eventually(followed, until=lambda r: r["agency_responsible"] is not None, what="dispatch")
    assert request["service_request_id"] == first and request["status"] == "open"
    assert request["status_notes"] == "已分流至承办部门" and request["service_code"] == "noise"
    assert request["expected_datetime"] and request["requested_datetime"].endswith("+08:00")
    assert request["description"] is None and request["address"] is None  # personal data stays home
    xml_request = await asyncio.to_thread(as_xml.get_service_request, first)
    assert xml_request["service_request_id"] == first and xml_request["status"] == "open"

    both = await asyncio.to_thread(as_json.get_service_requests, service_request_id=f"{first},{second}")
    assert {r["service_request_id"] for r in both} == {first, second}
    xml_both = await asyncio.to_thread(as_xml.get_service_requests, status="open")
    assert {r["service_request_id"] for r in xml_both} == {first, second}
    only_noise = await asyncio.to_thread(as_json.get_service_requests, service_code="noise")
    assert [r["service_request_id"] for r in only_noise] == [first]
    assert await asyncio.to_thread(as_json.get_service_requests, status="closed") == []
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await asyncio.to_thread(as_json.get_service_requests, start_date=later) == []
    for text in (str(both), str(xml_both)):
        assert "13912345678" not in text and "李" not in text and "排风机" not in text

    async with http_client(base_url=f"{hub.gateway}/open311/v2") as http:
        token = await http.get(f"/tokens/{first}.json")
        assert token.json() == [{"service_request_id": first, "token": first}]
        empty = await http.get("/requests.xml", params={"status": "closed"})
        assert empty.status_code == 200 and parse_xml(empty.content).tag == "service_requests"


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_errors_are_the_specs_in_either_format(authed_hub: InProcessHub, fmt: str) -> None:
    hub = authed_hub
    key = await open311_key(hub)
    centre = await create_client(hub, "centre")

    async def refused(status: int, form: dict[str, str], needle: str) -> None:
        response = await file_request(hub, fmt, form)
        assert_error(response, fmt, status, needle)

    good = {**FILING, "api_key": key.api_key}
    nowhere = {k: v for k, v in good.items() if k not in ("address_string", "address_id")}
    await refused(403, {**FILING}, "api_key required")
    await refused(403, {**FILING, "api_key": f"{key.client_id}.wrong"}, "invalid api_key")
    await refused(403, {**FILING, "api_key": centre.api_key}, "invalid api_key")  # not an Open311 key
    await refused(400, {k: v for k, v in good.items() if k != "service_code"}, "service_code required")
    await refused(400, {**good, "service_code": "potholes"}, "service_code 'potholes' not found")
    await refused(400, nowhere, "location required")
    await refused(400, {**good, "lat": "40.6"}, "lat and long must be given together")
    await refused(400, {**good, "attribute[colour]": "red"}, "attribute[colour]")
    await refused(400, {**good, "attribute[people_involved]": "many"}, "must be a number")
    await refused(400, {**good, "phone": "12345"}, "reporter.phone")  # intake's own validation
    await refused(404, {**good, "jurisdiction_id": "110101"}, "jurisdiction_id not found")

    async with http_client(base_url=f"{hub.gateway}/open311/v2") as http:
        assert_error(await http.get(f"/requests/ZZ-20990101-000001.{fmt}"), fmt, 404, "not found")
        assert_error(await http.get(f"/services/potholes.{fmt}"), fmt, 404, "not found")
        assert_error(await http.get(f"/requests.{fmt}", params={"status": "pending"}), fmt, 400, "status")
        long_range = {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-06-01T00:00:00+08:00"}
        assert_error(await http.get(f"/requests.{fmt}", params=long_range), fmt, 400, "90 days")
        assert_error(await http.get(f"/tokens/nothing.{fmt}"), fmt, 404, "not found")
    # Located by coordinates instead of an address: accepted.
    located = await file_request(hub, fmt, {**nowhere, "lat": "40.65", "long": "109.84"})
    assert located.status_code == 201, located.text


def parse_xml(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 - our own server's answer, in a test


def assert_error(response: httpx.Response, fmt: str, status: int, needle: str) -> None:
    assert response.status_code == status, response.text
    if fmt == "xml":
        assert response.headers["content-type"].startswith("text/xml")
        root = parse_xml(response.content)
        assert root.tag == "errors" and root.findtext("error/code") == str(status)
        assert needle in (root.findtext("error/description") or ""), response.text
    else:
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == status and problem["errors"][0]["code"] == status
        assert needle in problem["errors"][0]["description"], response.text
