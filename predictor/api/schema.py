"""The OpenAPI schema: drf-spectacular's, plus the error answers each operation can give, derived
from the view itself (its permissions, throttles, input and paging) so they cannot drift apart."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.plumbing import force_instance, is_list_serializer, is_serializer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")


_ERRORS = {
    "400": "Invalid input: the body names each bad field (`detail` for unreadable JSON).",
    "401": "No credentials where an account is needed, or a wrong token.",
    "403": "This account may not do this (or a session request came without its CSRF token).",
    "404": "No such object, or a page past the end.",
    "429": "Too many anonymous predictions from this address; retry after Retry-After seconds.",
    "503": "Cannot answer right now: no model can serve, or the database cannot take the "
    "request. Nothing was stored.",
}


class AutoSchema(openapi.AutoSchema):
    def _get_request_body(self, direction: str = "request") -> dict | None:
        """drf-spectacular's; a view with `request_body_required` (a file upload, whose body
        has no serializer to say so) marks its body required."""
        body = super()._get_request_body(direction)
        if body is not None and getattr(self.view, "request_body_required", False):
            body["required"] = True
        return body

    def _error_codes(self) -> list[str]:
        view, method = self.view, self.method
        # Any operation: wrong credentials (401), a database that cannot take the request (503).
        codes = ["401", "503"]
        if method in ("POST", "PUT", "PATCH") or getattr(view, "filterset_class", None):
            codes.append("400")
        open_to_all = all(isinstance(p, AllowAny) for p in view.get_permissions())
        if not open_to_all or method != "GET":  # or a session write without its CSRF token
            codes.append("403")
        if "{" in self.path or (method == "GET" and hasattr(view, "get_object")):
            codes.append("404")
        if view.get_throttles():
            codes.append("429")
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            documented = responses.get(code, {})
            if "content" in documented:
                continue
            schema = OpenApiTypes.OBJECT if code == "400" else ErrorSerializer
            description = documented.get("description") or _ERRORS[code]
            responses[code] = self._get_response_for_code(
                OpenApiResponse(response=schema, description=description), code
            )
        return dict(sorted(responses.items()))

    def _get_request_for_media_type(self, serializer, direction="request"):
        serializer = force_instance(serializer)
        if (
            self.method != "PATCH"
            or not is_serializer(serializer)
            or is_list_serializer(serializer)
        ):
            return super()._get_request_for_media_type(serializer, direction)
        # Our PATCH (the relabel) validates its whole body: document the serializer with its
        # required fields, not as the partial copy drf-spectacular assumes for PATCH.
        component = self.resolve_serializer(serializer, direction)
        return component.ref, bool(component.schema.get("required"))


def query_parameters_as_parsed(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: say of every query parameter what the server does
    with it. An empty value means "not given" (django-filter and the paginator skip it), and free
    text may not hold NUL characters (Django's form fields refuse them with a 400)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "query":
                    continue
                parameter["allowEmptyValue"] = True
                schema = parameter.get("schema", {})
                free_text = schema.get("type") == "string" and not {"enum", "format"} & set(schema)
                if free_text:
                    schema.setdefault("pattern", "^[^\\u0000]*$")
    return result
