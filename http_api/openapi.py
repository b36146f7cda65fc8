"""OpenAPI 3.1 document built from the routes' `endpoint` declarations and pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from http_api.endpoint import EndpointSpec

REF = "#/components/schemas/{model}"
ERROR = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
VALIDATION_ERROR = {
    "type": "object",
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        }
    },
}


def endpoints(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str, EndpointSpec]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from endpoints(route.routes, prefix + route.path)
        elif isinstance(route, Route) and hasattr(route.endpoint, "__api__"):
            path = re.sub(r"{(\w+)(:\w+)?}", r"{\1}", prefix + route.path)
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield path, method.lower(), route.endpoint.__api__


def build_document(routes: Sequence[BaseRoute], *, title: str, version: str) -> dict[str, Any]:
    found = list(endpoints(routes))
    models: dict[tuple[type[BaseModel], str], None] = {}
    for _, _, spec in found:
        for model, mode in ((spec.body, "validation"), (spec.response, "serialization")):
            if isinstance(model, type) and issubclass(model, BaseModel):
                models[(model, mode)] = None
    refs, schemas = models_json_schema(list(models), ref_template=REF)  # type: ignore[arg-type]
    defs: dict[str, Any] = dict(schemas.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for path, method, spec in found:
        paths.setdefault(path, {})[method] = operation(path, spec, refs, defs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def operation(path: str, spec: EndpointSpec, refs: dict[Any, Any], defs: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": spec.summary, "parameters": parameters(path, spec.query)}
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    if spec.files_field is not None:
        files = {"type": "array", "items": {"type": "string", "format": "binary"}}
        form = {"type": "object", "properties": {spec.files_field: files}, "required": [spec.files_field]}
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": form}}}
    op["responses"] = {str(spec.status_code): {"description": "Success", **content(spec, refs, defs)}}
    if spec.body is not None or spec.query is not None:
        op["responses"]["422"] = error_response("Validation error", VALIDATION_ERROR)
    if spec.access != "public":
        op["security"] = [{"bearer": []}]
        op["responses"]["401"] = error_response("Missing, invalid, expired or revoked token")
    if spec.access == "admin":
        op["responses"]["403"] = error_response("Admins only")
    for status, description in spec.extra_responses.items():
        op["responses"][str(status)] = error_response(description)
    return op


def content(spec: EndpointSpec, refs: dict[Any, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The response body's schema; models nested in a list or union join the components."""
    if spec.response is None:
        return {}
    if (spec.response, "serialization") in refs:
        schema = refs[(spec.response, "serialization")]
    else:
        schema = TypeAdapter(spec.response).json_schema(ref_template=REF, mode="serialization")
        defs.update(schema.pop("$defs", {}))
    return {"content": {"application/json": {"schema": schema}}}


def parameters(path: str, query: type[BaseModel] | None) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]
    if query is not None:
        schema = query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    return params


def error_response(description: str, schema: dict[str, Any] = ERROR) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_route(get_routes: Any, *, title: str, version: str) -> Any:
    """An endpoint serving the document, built once on first request (routes are fixed by then)."""
    cached: dict[str, Any] = {}

    async def openapi(request: Request) -> Response:
        if not cached:
            cached.update(build_document(get_routes(), title=title, version=version))
        return JSONResponse(cached)

    return openapi
