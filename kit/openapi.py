"""The OpenAPI schema tells the truth: drf-spectacular's AutoSchema with our bodies' rules, and the
errors and rate-limit headers every operation can answer with."""

import inspect
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance, is_patched_serializer
from rest_framework import serializers

from .bodies import JSONObjectField

NO_NUL_PATTERN = "^[^\\u0000]*$"


def _drop_defaults(field_schema: dict[str, Any]) -> None:
    """Remove a field's default, also from the branches of a oneOf/anyOf/allOf (a blank-or-pattern
    string is a oneOf whose first branch carries the default)."""
    field_schema.pop("default", None)
    for key in ("oneOf", "anyOf", "allOf"):
        for branch in field_schema.get(key, ()):
            if isinstance(branch, dict):
                _drop_defaults(branch)


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema, except that:

    - a PATCH body (a `Patched*` component) states no defaults: the server leaves an omitted field
      as it is, and a client generated from the schema would otherwise send every default and
      overwrite what the PATCH did not name;
    - a body is described by its own serializer's docstring only, never one inherited from a base
      class (whose docstring tells maintainers how it works, not clients what to send).
    """

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        own_doc = type(force_instance(serializer)).__dict__.get("__doc__")
        if own_doc:
            schema["description"] = inspect.cleandoc(own_doc)
        else:
            schema.pop("description", None)
        if is_patched_serializer(serializer, direction):
            for field_schema in schema.get("properties", {}).values():
                _drop_defaults(field_schema)
        return schema

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(schema, dict):
            if isinstance(field, JSONObjectField):
                schema.update(type="object", additionalProperties={})
            elif isinstance(field, serializers.CharField) and not any(
                    isinstance(validator, RegexValidator) for validator in field.validators):
                schema["pattern"] = NO_NUL_PATTERN  # DRF refuses U+0000 in every text field
        return schema


COMMON_ERRORS = {  # status -> (component name, description)
    "401": ("Unauthenticated", "Missing, malformed, unknown, revoked or expired API key."),
    "403": ("MissingScope", "The API key lacks the scope this operation needs."),
    "404": ("NotFound", "Not found."),
    "405": ("MethodNotAllowed", "Method not allowed."),
    "406": ("NotAcceptable", "The Accept header allows no JSON answer: accept application/json or */*."),
    "413": ("BodyTooLarge", "Request body too large."),
    "415": ("UnsupportedMediaType", "Unsupported media type: send application/json."),
    "429": ("RateLimited", "Rate limit exceeded; see Retry-After."),
    "500": ("ServerError", "Internal server error."),
    "503": ("Unavailable", "The database is unavailable; nothing was done. Retry after Retry-After seconds."),
}


def _header_schema(description: str) -> dict[str, Any]:
    return {"schema": {"type": "integer"}, "description": description}


RATE_LIMIT_HEADER_SCHEMAS = {
    "X-RateLimit-Limit": _header_schema("Requests allowed in the window closest to its limit."),
    "X-RateLimit-Remaining": _header_schema("Requests left in that window."),
    "X-RateLimit-Reset": _header_schema("When that window resets, in epoch seconds."),
    "X-RateLimit-Window": _header_schema("That window's length in seconds (60 or 3600)."),
    "X-RateLimit-Limit-Minute": _header_schema("Requests allowed per minute."),
    "X-RateLimit-Remaining-Minute": _header_schema("Requests left this minute."),
    "X-RateLimit-Limit-Hour": _header_schema("Requests allowed per hour."),
    "X-RateLimit-Remaining-Hour": _header_schema("Requests left this hour."),
}


def schema_postprocessing_hook(result: dict[str, Any], generator: Any, request: Any, public: bool
                               ) -> dict[str, Any]:
    """Add the errors every operation can answer, and the rate-limit headers, to each operation."""
    error_ref = {"$ref": "#/components/schemas/Error"}
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault("Error", {
        "type": "object",
        "properties": {
            "detail": {"type": "string"},
            "status_code": {"type": "integer"},
            "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                       "description": "On 400: the messages per field."},
        },
        "required": ["detail", "status_code"],
    })
    components = result["components"]
    components.setdefault("headers", {}).update(
        {**RATE_LIMIT_HEADER_SCHEMAS, "Retry-After": _header_schema("Seconds to wait before trying again.")})
    header_refs = {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADER_SCHEMAS}
    for code, (name, description) in COMMON_ERRORS.items():
        headers = {**header_refs, **({"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
                                     if code in ("429", "503") else {})}
        components.setdefault("responses", {})[name] = {
            "description": description, "content": {"application/json": {"schema": error_ref}}, "headers": headers}
    for path, path_item in result.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, response in responses.items():
                response.setdefault("headers", {}).update(header_refs)
            for code, (name, _) in COMMON_ERRORS.items():
                if code == "404" and "{" not in path:
                    continue  # only a path with an id can name nothing
                responses.setdefault(code, {"$ref": f"#/components/responses/{name}"})
    return result
