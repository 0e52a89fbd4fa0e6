"""The OpenAPI spec is fit for code generation (issue 8 item 2): it validates as OpenAPI 3.1; every operation
has a unique camelCase operationId and exactly one declared tag, the native API's tag first; the native API
uses only named schemas, documents its errors with ErrorResponse and carries examples that match its
schemas; vendor dialects keep their own tags. The spec is app.openapi(), which /openapi.json serves as is
(tests/sdk/ generate clients from the served one), put through JSON as a client would read it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from ocrgw.dialects.gvision import GOOGLE_VISION
from ocrgw.dialects.native.routes import TAG as NATIVE_TAG
from ocrgw.main import create_app
from ocrgw.settings import Settings

OPERATION_ID = re.compile(r"^[a-z][a-zA-Z0-9]*$")
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
NATIVE_PREFIX = "/v1/"
ERROR_REF = "#/components/schemas/ErrorResponse"
NATIVE_OPERATIONS = {"submitJob", "getJob", "getJobResult", "exportJobResult", "listJobs", "deleteJob", "listLanguages"}
EXAMPLED = ("Operation", "Result", "OperationList", "ErrorResponse", "SubmitRequest")


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("openapi")))  # no lifespan: no workers
    return json.loads(json.dumps(app.openapi()))


def operations(spec: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def is_native(path: str) -> bool:
    """Under /v1/, but not Google Vision's paths there (`/v1/images:annotate`, `/v1/projects/...`)."""
    return path.startswith(NATIVE_PREFIX) and not path.startswith(GOOGLE_VISION.prefixes_for(Settings()))


def native(spec: dict) -> list[tuple[str, str, dict]]:
    return [(p, m, op) for p, m, op in operations(spec) if is_native(p)]


def test_spec_is_valid_openapi_31(spec: dict) -> None:
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_operation_ids_are_unique_and_camel_case(spec: dict) -> None:
    ids = [op.get("operationId", "") for _, _, op in operations(spec)]
    assert all(OPERATION_ID.match(i) for i in ids), [i for i in ids if not OPERATION_ID.match(i)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert {op["operationId"] for _, _, op in native(spec)} >= NATIVE_OPERATIONS


def test_one_declared_tag_per_operation_native_first(spec: dict) -> None:
    declared = [t["name"] for t in spec["tags"]]
    assert declared[0] == NATIVE_TAG and spec["tags"][0]["description"]
    assert all(t.get("description") for t in spec["tags"]), spec["tags"]
    used = set()
    for path, method, op in operations(spec):
        assert len(op.get("tags", [])) == 1 and op["tags"][0] in declared, (method, path, op.get("tags"))
        assert (op["tags"][0] == NATIVE_TAG) == is_native(path), (method, path, op["tags"])
        used.add(op["tags"][0])
    assert used == set(declared)


def _inline_objects(node: object, where: str = "") -> Iterator[str]:
    """Schema objects written inline (properties or type object) instead of a $ref to a named component."""
    if isinstance(node, dict):
        if "properties" in node or node.get("type") == "object":
            yield where
        for key, value in node.items():
            yield from _inline_objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _inline_objects(value, f"{where}/{i}")


def test_native_operations_use_named_schemas(spec: dict) -> None:
    for path, method, op in native(spec):
        assert op.get("summary") and op.get("description"), (method, path)
        assert not list(_inline_objects(op)), (method, path, list(_inline_objects(op)))
        for media, body in op.get("requestBody", {}).get("content", {}).items():
            schema = body["schema"]
            assert "$ref" in schema or schema == {"type": "string", "format": "binary"}, (path, media, schema)
        for status, resp in op["responses"].items():
            json_body = resp.get("content", {}).get("application/json")
            if json_body:
                assert "$ref" in json_body["schema"], (method, path, status)
    form = spec["components"]["schemas"]["SubmitForm"]
    assert form["properties"]["file"]["format"] == "binary"  # a file type in generated clients


def test_native_errors_are_documented_with_error_response(spec: dict) -> None:
    for path, method, op in native(spec):
        responses = op["responses"]
        assert "default" in responses, (method, path)
        if op.get("security"):
            assert "401" in responses, (method, path)
            assert {next(iter(s)) for s in op["security"]} == {"APIKeyHeader", "HTTPBearer"}, op["security"]
        for status, resp in responses.items():
            if status == "default" or status[0] in "45":
                assert resp["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, (method, path, status)
                assert resp.get("description"), (method, path, status)
    for path, method, op in native(spec):
        if op["operationId"] in ("getJob", "getJobResult", "deleteJob"):
            assert "404" in op["responses"], (method, path)
    assert "409" in spec["paths"]["/v1/jobs/{job_id}/result"]["get"]["responses"]
    export = spec["paths"]["/v1/jobs/{job_id}/result/{format}"]["get"]["responses"]
    # generated clients read a 200 by its first media type: binary, so every format comes back as a file
    assert next(iter(export["200"]["content"])) == "application/octet-stream", export["200"]
    assert {"text/markdown", "text/html", "application/pdf"} <= set(export["200"]["content"])


def test_no_validation_422_and_readable_component_names(spec: dict) -> None:
    """No route answers FastAPI's 422 (each dialect renders bad input in its own envelope), and pydantic's
    collision names (`ocrgw__dialects__...`) are gone: generators name classes after them."""
    for path, method, op in operations(spec):
        assert "422" not in op["responses"], (method, path)
    names = spec["components"]["schemas"]
    assert "HTTPValidationError" not in names
    assert not [n for n in names if "__" in n or not re.match(r"^[A-Z][A-Za-z0-9]*$", n)], sorted(names)
    assert names["ErrorResponse"]["title"] == "ErrorResponse"
    assert "error" in names["ErrorResponse"]["properties"]  # the native envelope kept the plain name


def test_native_examples_match_their_schemas(spec: dict) -> None:
    components = spec["components"]
    for name in EXAMPLED:
        schema = components["schemas"][name]
        assert schema.get("examples"), name
        validator = Draft202012Validator({**schema, "components": components})
        for example in schema["examples"]:
            errors = [e.message for e in validator.iter_errors(example)]
            assert not errors, (name, errors)


def test_cached_spec_is_stable(tmp_path: Path) -> None:
    """openapi() post-processes once and caches: a second call gives the same document."""
    app = create_app(Settings(data_dir=tmp_path))
    first = app.openapi()
    assert app.openapi() is first and "ErrorResponse" in first["components"]["schemas"]
