"""The OpenAPI document the app serves: FastAPI's, with every dialect's tags and named request schemas,
without the 422s no route ever answers, and with readable component names. Also the native API's own
document at /v1/openapi.json, the one to generate clients from (the vendors' routes carry shapes that
generators cannot type, and their clients are the vendors' own SDKs)."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse

from ocrgw.dialects import Dialect

# Module names left out of component-name prefixes: the schema modules themselves, and Azure's Read, whose
# models were named plainly `Azure...` before the Azure APIs got a package each.
_NOT_IN_NAMES = {"schemas", "read"}
OPERATIONS_TAG = {"name": "Operations", "description": "Liveness and readiness probes."}


def install(app: FastAPI, dialects: Sequence[Dialect], *, native: Dialect) -> None:
    """Replace ``app.openapi`` with the customised document (built once), and serve the native API's
    document at ``/v1/openapi.json``."""
    original = app.openapi
    app.openapi_tags = [tag for d in dialects for tag in d.tags] + [OPERATIONS_TAG]

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        for d in dialects:
            for name, model in d.schemas.items():
                comps.setdefault(name, model.model_json_schema(ref_template="#/components/schemas/{model}"))
        _drop_validation_422(schema)
        _required_api_version(schema)
        _readable_schema_names(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    tags = {tag["name"] for tag in native.tags}
    cached: dict[str, dict] = {}

    async def native_openapi(request: Request) -> JSONResponse:
        if "doc" not in cached:
            cached["doc"] = only_tags(app.openapi(), tags)
        return JSONResponse(cached["doc"])

    app.add_api_route("/v1/openapi.json", native_openapi, methods=["GET"], include_in_schema=False)


def only_tags(schema: dict, tags: set[str]) -> dict:
    """The document with only the operations of ``tags`` and the components they reach."""
    doc = copy.deepcopy(schema)
    paths = {}
    for path, ops in doc.get("paths", {}).items():
        kept = {m: op for m, op in ops.items() if set(op.get("tags", ())) & tags}
        if kept:
            paths[path] = kept
    doc["paths"] = paths
    doc["tags"] = [t for t in doc.get("tags", []) if t["name"] in tags]
    comps = doc.get("components", {}).get("schemas", {})
    reached: set[str] = set()
    todo = [json.dumps(paths)]
    while todo:
        for name in _refs(todo.pop()):
            if name not in reached and name in comps:
                reached.add(name)
                todo.append(json.dumps(comps[name]))
    doc.setdefault("components", {})["schemas"] = {k: v for k, v in comps.items() if k in reached}
    return doc


def _refs(text: str) -> set[str]:
    marker = '"#/components/schemas/'
    out = set()
    start = text.find(marker)
    while start != -1:
        end = text.find('"', start + len(marker))
        out.add(text[start + len(marker) : end])
        start = text.find(marker, end)
    return out


def _drop_validation_422(schema: dict) -> None:
    """FastAPI documents a 422 HTTPValidationError on every route with parameters, but `on_validation_error`
    answers bad input in the calling dialect's own envelope and status (400 for all of them): drop the 422s
    so clients are not generated for an error shape that never comes."""
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            resp = op.get("responses", {}).get("422", {})
            ref = resp.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref.endswith("/HTTPValidationError"):
                del op["responses"]["422"]
    comps = schema.get("components", {}).get("schemas", {})
    if "HTTPValidationError" not in json.dumps(schema.get("paths", {})):
        comps.pop("HTTPValidationError", None)
        if "/ValidationError" not in json.dumps(comps):
            comps.pop("ValidationError", None)


def _required_api_version(schema: dict) -> None:
    """Azure's `api-version` query parameter is required wherever a route takes one (Document Intelligence,
    Form Recognizer, Image Analysis), and the server refuses a request without it. The routes declare it
    optional only so that its absence gets the vendor's own error (`ParameterMissing`, ...) rather than a
    generic validation error: the document says what the server enforces. The versions a route serves
    (its `x-api-versions`, which one function serving two services cannot put on its parameter) become the
    parameter's enum: any other value is refused too."""
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            versions = op.pop("x-api-versions", None)
            for param in op.get("parameters", ()):
                if param.get("in") == "query" and param.get("name") == "api-version":
                    param["required"] = True
                    param["schema"] = {k: v for k, v in param.get("schema", {}).items() if k != "anyOf"}
                    param["schema"]["type"] = "string"
                    if versions:
                        param["schema"]["enum"] = list(versions)


def _readable_schema_names(schema: dict) -> None:
    """Pydantic names a component `ocrgw__dialects__azure__schemas__ErrorResponse` when two dialects both have
    a model of that name; code generators then make unreadable classes, or drop both (openapi-python-client
    names models by `title`, which is the same). Prefix such models with their dialect (`AzureErrorResponse`),
    the native API keeping the plain name, and rewrite the references."""
    comps: dict = schema.get("components", {}).get("schemas", {})
    renames: dict[str, str] = {}
    for name in list(comps):
        parts = name.split("__")
        if len(parts) < 2:
            continue
        where = parts[parts.index("dialects") + 1 : -1] if "dialects" in parts else parts[:-1]
        prefix = "" if where[:1] == ["native"] else "".join(p.capitalize() for p in where if p not in _NOT_IN_NAMES)
        new = prefix + parts[-1]
        if new not in comps and new not in renames.values():
            renames[name] = new
    if not renames:
        return
    for old, new in renames.items():
        comps[new] = comps.pop(old)
        comps[new]["title"] = new
    schema["components"]["schemas"] = dict(sorted(comps.items()))
    refs = {f"#/components/schemas/{old}": f"#/components/schemas/{new}" for old, new in renames.items()}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) and node["$ref"] in refs:
                node["$ref"] = refs[node["$ref"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
