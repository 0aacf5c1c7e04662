"""Open311 bodies in both formats: JSON as the spec shows it, XML with the spec's element names."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from fastapi import Response
from fastapi.responses import JSONResponse

from hub.problems import PROBLEM_JSON, Problem

XML_TYPE = "text/xml; charset=utf-8"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
FORMATS = ("json", "xml")
# Element name of one item of each list, in the spec's XML.
_ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _element(name: str, value: Any) -> ET.Element:
    element = ET.Element(name)
    if isinstance(value, dict):
        for key, child in value.items():
            element.append(_element(key, child))
    elif isinstance(value, list):
        for item in value:
            element.append(_element(_ITEM.get(name, "item"), item))
    else:
        element.text = _text(value)
    return element


def xml_bytes(root: str, value: Any) -> bytes:
    return XML_DECLARATION + ET.tostring(_element(root, value), encoding="unicode").encode()


def respond(fmt: str, root: str, value: Any, status: int = 200) -> Response:
    """`value` as JSON, or as XML under `root` (lists become repeated item elements)."""
    if fmt == "xml":
        return Response(xml_bytes(root, value), status_code=status, media_type=XML_TYPE)
    return JSONResponse(value, status_code=status)


def error(
    fmt: str,
    status: int,
    description: str,
    *,
    title: str = "Open311 请求有误",
    headers: dict[str, str] | None = None,
) -> Response:
    """The spec's error list in XML; RFC 9457 problem details carrying the same list in JSON."""
    items = [{"code": status, "description": description}]
    if fmt == "xml":
        return Response(xml_bytes("errors", items), status_code=status, media_type=XML_TYPE, headers=headers)
    problem = Problem(status, title, description, type_=f"open311-{status}", errors=items)
    return JSONResponse(problem.body(), status_code=status, media_type=PROBLEM_JSON, headers=headers)
