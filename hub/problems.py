"""RFC 9457 problem details: the one error shape of every HTTP endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://hub.example.gov.cn/problems/"


class Problem(Exception):
    """Raise from anywhere in a request to answer with problem details; nothing has been written."""

    def __init__(
        self, status: int, title: str, detail: str = "", *, type_: str = "about:blank", **extra: Any
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_ if type_ == "about:blank" or "://" in type_ else TYPE_BASE + type_
        self.extra = extra
        self.headers: dict[str, str] = {}  # e.g. Retry-After on a 429

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            doc["detail"] = self.detail
        if instance:
            doc["instance"] = instance
        doc.update(self.extra)
        return doc


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(request.url.path if request else None),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers or None,
    )


def validation_errors(errors: Any) -> list[dict[str, str]]:
    """Pydantic errors → [{field, message}] with a dotted field path the caller can act on."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        out.append({"field": ".".join(loc) or "(body)", "message": err.get("msg", "invalid")})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc.errors())
        fields = ", ".join(e["field"] for e in errors)
        return problem_response(
            Problem(
                422, "请求内容有误", f"以下字段不正确: {fields}", type_="validation-error", errors=errors
            ),
            request,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "未找到", 405: "不支持的方法", 401: "未认证", 403: "无权限"}
        return problem_response(
            Problem(exc.status_code, titles.get(exc.status_code, "请求错误"), str(exc.detail or "")), request
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The message may carry data; the log line keeps the type only (personal data never in logs).
        import logging

        logging.getLogger("hub.http").error("unhandled %s on %s", type(exc).__name__, request.url.path)
        return problem_response(Problem(500, "服务内部错误", "请稍后重试；如持续出现请联系运维。"), request)
