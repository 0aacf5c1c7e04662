"""The security part of the gateway's OpenAPI document, declared in one place: the bearer and
client-credentials schemes, 401/403/429 on every bearer route, and problem details as the schema of
every error answer auth adds (and of 422)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from gateway.auth.middleware import TOKEN_PATH, needs_bearer
from hub.problems import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Token from POST /api/v1/auth/token (OAuth2 client credentials: systems) or "
        "POST /api/v1/auth/login (a person; renewed with POST /api/v1/auth/refresh)",
    },
    "clientCredentials": {
        "type": "oauth2",
        "flows": {"clientCredentials": {"tokenUrl": TOKEN_PATH, "scopes": {}}},
    },
}


def _problem_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def secure(doc: dict[str, Any]) -> dict[str, Any]:
    """Add the schemes, the Problem schema and the answers auth can give to a generated document."""
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in doc.get("paths", {}).items():
        for method, op in operations.items():
            if not isinstance(op, dict) or method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = op.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _problem_response("请求内容有误 (validation problem)")
            if needs_bearer(path):
                op["security"] = [{"bearerAuth": []}, {"clientCredentials": []}]
                responses.setdefault("401", _problem_response("Missing, invalid or expired token"))
                responses.setdefault("403", _problem_response("The client's role may not call this"))
                responses.setdefault(
                    "429",
                    _problem_response(
                        "Rate limit of the client exceeded", {"Retry-After": {"schema": {"type": "integer"}}}
                    ),
                )
    return doc


def declare_security(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = secure(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
