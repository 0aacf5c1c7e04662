"""The citizen QR form (码上监督, issue 18): a public, mobile-first Chinese page per centre where a citizen
reports a problem — with an SMS verification code to their mobile (through notification), or
anonymously without one — and a status page for the case they filed, where they also rate the handling
once the department has replied. The QR code a centre prints comes from here too.

Routes (no login; outside /api/v1 and its bearer auth, like the console's files):
- pages (gateway/citizen/pages.py): GET /report/{centre_code}, GET /report/status/{token},
  POST /report/status/{token}/rating, GET /report/{centre_code}/qr.svg|qr.png;
- JSON (gateway/citizen/api.py): POST /report/{centre_code}/code, POST /report/{centre_code}/cases,
  GET /report/{centre_code}/link;
- files: /report/assets/ (the page's script and style).
docs/decisions/0025-citizen-qr-form.md says why it is built this way.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from gateway.citizen import api, common, pages

STATIC_DIR = Path(__file__).with_name("static")


class CitizenFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update({"Content-Security-Policy": pages.CSP, "Cache-Control": "no-cache"})
        return response


def install(app: FastAPI) -> None:
    common.install_state(app)
    app.mount("/report/assets", CitizenFiles(directory=STATIC_DIR), name="citizen-assets")
    # The status page's paths first: `status` is no centre code.
    app.include_router(pages.router)
    app.include_router(api.router)
