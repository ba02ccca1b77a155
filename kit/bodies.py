"""Request bodies: JSON capped in size and depth, input serializers that refuse unknown fields, and
the strict JSON fields the schema promises."""

import copy
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings
from rest_framework.utils import json

class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


JSON_TOO_DEEP = "JSON parse error - the body is nested too deeply."


class BoundedJSONParser(JSONParser):
    """JSON bodies up to the view's cap (`max_body_setting`, API_MAX_BODY_BYTES by default); larger ones are
    refused before they are read. A body is parsed once per request (json_body)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None):
        request = (parser_context or {}).get("request")
        limit = getattr(settings, getattr((parser_context or {}).get("view"), "max_body_setting", "API_MAX_BODY_BYTES"))
        if request is None:
            try:
                return super().parse(stream, media_type, parser_context)
            except RecursionError as err:
                raise exceptions.ParseError(JSON_TOO_DEEP) from err
        if body_too_large(request, limit):
            raise RequestTooLarge(f"Request body too large: at most {limit} bytes.")
        return json_body(request._request)


_UNPARSED = object()


def json_body(request: HttpRequest) -> Any:
    """The request's JSON body, parsed the first time a reader asks (the rate limiter's read-ahead, then
    DRF's parser) and kept on the request for the next: by DRF's JSONParser's rules (the request's
    charset, no NaN or Infinity under STRICT_JSON). Raises ParseError, as DRF's parser does."""
    parsed = getattr(request, "_json_body", _UNPARSED)
    if parsed is _UNPARSED:
        try:
            text = request.body.decode(request.encoding or settings.DEFAULT_CHARSET)
            parsed = json.loads(text, parse_constant=json.strict_constant if api_settings.STRICT_JSON else None)
        except RecursionError as err:
            raise exceptions.ParseError(JSON_TOO_DEEP) from err
        except ValueError as err:
            raise exceptions.ParseError(f"JSON parse error - {err}") from err
        request._json_body = parsed
    return parsed


def body_too_large(request: HttpRequest, limit: int | None = None) -> bool:
    """Whether the request declares a body over `limit` bytes, API_MAX_BODY_BYTES by default (such a body
    is never read)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > (settings.API_MAX_BODY_BYTES if limit is None else limit)
    except ValueError:
        return False


_COMPOUND_FIELDS = (serializers.ListField, serializers.DictField, serializers.BaseSerializer)


def _shallow_copy(field: serializers.Field) -> serializers.Field:
    """copy.copy(field) without the copy protocol's detour through __reduce_ex__."""
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return clone


class StrictInputSerializer(serializers.Serializer):
    """A request body (or query): a JSON object whose every key is a declared field.

    A plain field keeps no state of its own beyond what binding sets on it, so each instance takes a
    shallow copy of it: DRF's deep copy rebuilds every field from its arguments, which cost a send
    request more than validating its body. Fields that hold other fields are deep-copied as usual.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: copy.deepcopy(field) if isinstance(field, _COMPOUND_FIELDS) else _shallow_copy(field)
                for name, field in self._declared_fields.items()}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise exceptions.ValidationError({field: ["Unknown field."] for field in unknown})
            # DRF's CharField turns a number into its text (`"subject": 0` saved as "0"); the schema says string.
            not_text = [name for name, field in self._declared_fields.items()
                        if isinstance(field, serializers.CharField) and data.get(name) is not None
                        and not isinstance(data[name], str)]
            if not_text:
                raise exceptions.ValidationError({name: ["Not a valid string."] for name in not_text})
        return super().to_internal_value(data)


def _reject_nul(value: Any, path: str = "") -> None:
    # PostgreSQL's jsonb cannot store U+0000; refuse it here rather than fail at the database.
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(f"Null characters are not allowed{f' (at {path})' if path else ''}.")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _reject_nul(key, path)
            _reject_nul(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_nul(item, f"{path}.{index}" if path else str(index))


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false only: DRF's own also takes 0, 1, "yes", "true", which the schema does not allow."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class JSONObjectField(serializers.JSONField):
    """A JSON object (free-form keys), stored as jsonb."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        _reject_nul(data)
        return super().to_internal_value(data)


class JSONValueField(serializers.JSONField):
    """Any JSON value that PostgreSQL's jsonb can store."""

    def to_internal_value(self, data: Any) -> Any:
        _reject_nul(data)
        return super().to_internal_value(data)


BIGINT_MAX = 2**63 - 1


class BigIdField(serializers.IntegerField):
    """A 64-bit row id (a log, an in-app message): `format: int64` in the schema, so a client generated from
    it keeps ids past 2^31 - 1 in a 64-bit integer (openapi-generator's Java and C# clients choose a 32-bit
    one for a plain `integer`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)
