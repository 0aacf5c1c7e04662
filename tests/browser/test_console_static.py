"""The console's files: served without a token, at /console/ (and / redirects there), every asset
local (no CDN on a government intranet), with a Content-Security-Policy that allows only our own
files; /api/v1 stays closed without a token."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.console import STATIC_DIR, install

ASSET_REFERENCE = re.compile(
    r"""(?:src|href)\s*=\s*["']([^"']+)["']|\bfrom\s+["']([^"']+)["']|import\(["']([^"']+)["']"""
)


def _client() -> TestClient:
    app = FastAPI()
    install(app)
    return TestClient(app)


def test_console_is_served_without_a_token_with_security_headers() -> None:
    client = _client()
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/console/"
    page = client.get("/console/")
    assert page.status_code == 200 and "综治中心" in page.text
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    script = client.get("/console/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert client.get("/console/missing.js").status_code == 404


def test_every_asset_is_local() -> None:
    files = sorted(p for p in STATIC_DIR.iterdir() if p.suffix in (".html", ".js", ".css", ".svg"))
    assert {p.name for p in files} >= {"index.html", "app.js", "api.js", "style.css"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "@import" not in text and "url(http" not in text, path.name
        for match in ASSET_REFERENCE.finditer(text):
            target = next(g for g in match.groups() if g)
            assert not re.match(r"^(?:[a-z]+:)?//", target), f"{path.name} fetches {target} from elsewhere"
            if not target.startswith(("/", "#")):
                assert (STATIC_DIR / target.removeprefix("./")).is_file(), f"{path.name}: no {target}"


def test_no_markup_from_data() -> None:
    """Data is put on the page as text only: no innerHTML / outerHTML / insertAdjacentHTML / eval."""
    for path in STATIC_DIR.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        for risky in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "eval(",
            "new Function",
            "document.write",
        ):
            assert risky not in text, f"{path.name} uses {risky}"
