"""A self-contained `/docs` page rendered from the OpenAPI description.

FastAPI's Swagger UI loads its JavaScript from a CDN; this page is plain HTML
from the same server, so it works offline and under the strict CSP.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")


def render_api_docs(openapi: dict[str, Any]) -> str:
    info = openapi.get("info", {})
    sections = []
    for path, operations in openapi.get("paths", {}).items():
        for method in METHODS:
            if method in operations:
                sections.append(_operation(method, path, operations[method], openapi))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(info.get("title", "API"))}</title>
<link rel="stylesheet" href="/static/docs.css">
</head>
<body>
<h1>{escape(info.get("title", "API"))} <small>{escape(str(info.get("version", "")))}</small></h1>
<p>{escape(info.get("description", ""))}</p>
<p>Machine-readable description: <a href="/openapi.json">/openapi.json</a>.
Every error has the body <code>{{"error": {{"code": "...", "message": "..."}}}}</code>.</p>
{"".join(sections)}
</body>
</html>
"""


def _operation(method: str, path: str, operation: dict[str, Any], openapi: dict[str, Any]) -> str:
    parameters = "".join(
        f"<li><code>{escape(p['name'])}</code> ({escape(p['in'])}): "
        f"{escape(p.get('description', ''))}</li>"
        for p in operation.get("parameters", [])
    )
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    body_schema = _resolve(body.get("schema", {}), openapi)
    examples = body_schema.get("examples") or []
    request = (
        "<p>Request body (JSON): " + escape(body_schema.get("description", "")) + "</p>"
        + "".join(f"<pre>{escape(json.dumps(e, ensure_ascii=False))}</pre>" for e in examples)
        if body
        else ""
    )
    responses = "".join(
        f"<li><code>{escape(code)}</code> {escape(r.get('description', ''))}</li>"
        for code, r in operation.get("responses", {}).items()
    )
    return f"""<section>
<h2><code>{method.upper()} {escape(path)}</code> — {escape(operation.get("summary", ""))}</h2>
<p>{escape(operation.get("description", ""))}</p>
{f"<ul>{parameters}</ul>" if parameters else ""}
{request}
<ul>{responses}</ul>
</section>
"""


def _resolve(schema: dict[str, Any], openapi: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        resolved = openapi.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
        return resolved if isinstance(resolved, dict) else {}
    return schema
