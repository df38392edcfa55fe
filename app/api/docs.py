"""The interactive API documentation at `/docs`, served entirely from this process.

FastAPI's own `/docs` loads Swagger UI from a CDN, so on a machine with no internet (or behind a clinic
firewall) it is a blank page. Here Swagger UI's dist files come from the `fastapi-swagger` package
(see docs/api.md for why that one) and are served under `/docs/static/`; the start-up script is a file
too, so the page runs under a Content-Security-Policy that allows nothing but this origin. ReDoc is not
served: `/redoc` is an unknown path (404 JSON) like any other.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import fastapi_swagger
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/static"
INIT_PATH = "/docs/init.js"
SWAGGER_DIST = Path(fastapi_swagger.__file__).resolve().parent / "resources"
# Only Swagger UI's own files: the package folder also holds its Python files.
SWAGGER_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})

# Same origin only. Swagger UI's stylesheet draws its icons from data: URIs; its inline styles are set
# through the DOM (not style attributes in markup), which style-src does not govern.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# The start-up script, served as a file so that the CSP needs no 'unsafe-inline'. The schema URL comes
# from the page (it depends on the root path). validatorUrl null: Swagger UI would otherwise send the
# schema's URL to a public validator; BaseLayout is FastAPI's choice (no top bar to load other specs).
INIT_JS = """\
"use strict";
window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});
"""

PAGE_TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{init}"></script>
</body>
</html>
"""


class _SwaggerFiles(StaticFiles):
    """Swagger UI's dist files, revalidated by browsers (ETag): a package upgrade changes them under the
    same URL."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if path not in SWAGGER_FILES:
            return "", None
        return super().lookup_path(path)

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` and its assets; build the app with `docs_url=None, redoc_url=None` so that FastAPI's
    CDN-based pages are not registered."""
    if not (SWAGGER_DIST / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(f"Swagger UI's files are missing from {SWAGGER_DIST}: reinstall fastapi-swagger.")
    app.mount(ASSETS_PATH, _SwaggerFiles(directory=SWAGGER_DIST), name="docs-static")
    headers = {"Cache-Control": "no-cache"}

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs_page(request: Request) -> HTMLResponse:
        if app.openapi_url is None:
            raise HTTPException(404)
        root = request.scope.get("root_path", "").rstrip("/")
        page = PAGE_TEMPLATE.format(
            title=html.escape(f"{app.title} API"),
            assets=html.escape(root + ASSETS_PATH),
            init=html.escape(root + INIT_PATH),
            openapi_url=html.escape(root + app.openapi_url),
        )
        return HTMLResponse(page, headers={**headers, "Content-Security-Policy": DOCS_CSP})

    @app.get(INIT_PATH, include_in_schema=False)
    def docs_init() -> Response:
        return Response(INIT_JS, media_type="text/javascript", headers=headers)
