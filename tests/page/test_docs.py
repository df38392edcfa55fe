"""The API documentation at /docs works offline: Swagger UI and everything it loads come from the
service itself (a real `posture serve`), under a CSP that allows only this origin."""

from __future__ import annotations

import re

import httpx

from .conftest import CSP, Server, Tab

# Every URL the docs page names in src/href/data-openapi-url attributes.
ATTRIBUTE_URL = re.compile(r'\b(?:src|href|data-openapi-url)="([^"]*)"')
EXPECTED_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


def _operations(server: Server) -> int:
    schema = httpx.get(f"{server.base}/openapi.json", timeout=30).json()
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sum(1 for item in schema["paths"].values() for method in item if method in methods)


def test_docs_page_names_only_local_assets_and_each_loads(server: Server):
    page = httpx.get(f"{server.base}/docs", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "'self'" in page.headers["content-security-policy"]
    assert "cdn" not in page.text.lower() and "unsafe-inline" not in page.headers["content-security-policy"]
    assert "<script>" not in page.text, "an inline script would need 'unsafe-inline' or a hash"
    urls = ATTRIBUTE_URL.findall(page.text)
    assert len(urls) >= 4, urls  # stylesheet, icon, Swagger UI bundle, start-up script (+ the schema)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{url} is not on this origin"
        asset = httpx.get(server.base + url, timeout=30)
        assert asset.status_code == 200, url
        assert asset.content, url
        suffix = url[url.rfind(".") :]
        assert asset.headers["content-type"].startswith(EXPECTED_TYPES[suffix]), (url, asset.headers)
    bundle = httpx.get(f"{server.base}/docs/static/swagger-ui-bundle.js", timeout=30)
    assert b"SwaggerUIBundle" in bundle.content


def test_redoc_is_gone_and_the_page_keeps_its_strict_policy(server: Server):
    redoc = httpx.get(f"{server.base}/redoc", timeout=30)
    assert redoc.status_code == 404 and redoc.json()["code"] == "not_found"
    # Swagger UI's own files only: the package folder they come from also holds Python files.
    assert httpx.get(f"{server.base}/docs/static/__init__.py", timeout=30).status_code == 404
    page = httpx.get(f"{server.base}/", timeout=30)
    assert page.headers["content-security-policy"] == CSP


def test_docs_list_every_operation_with_no_request_leaving_this_host(
    tab: Tab, server: Server, browser_context, artifacts
):
    page = tab.page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    outside_before = len(browser_context.outside_requests)

    page.goto(f"{server.base}/docs")
    page.locator('.opblock-summary-path[data-path="/api/v1/subjects"]').first.wait_for()
    assert page.locator(".opblock").count() == _operations(server)
    assert page.get_by_role("heading", name=re.compile("posture-profile")).count() >= 1

    # The page works, not only draws: run one operation through "Try it out" (same-origin fetch).
    health = page.locator('.opblock:has(.opblock-summary-path[data-path="/api/v1/health"])')
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    health.locator(".live-responses-table .response-col_status", has_text="200").wait_for()
    page.screenshot(path=str(artifacts / "docs.png"), full_page=False)

    local = f"{server.base}/"
    assert requested, "no request recorded"
    assert f"{server.base}/docs/static/swagger-ui-bundle.js" in requested
    assert f"{server.base}/openapi.json" in requested
    elsewhere = [url for url in requested if not url.startswith(local) and not url.startswith("data:")]
    assert elsewhere == []
    assert browser_context.outside_requests[outside_before:] == []
    # CSP violations and script errors show here (console errors, uncaught exceptions).
    assert tab.errors == []
