"""The OpenAPI schema says what the API does, errors included (drf-spectacular postprocessing hook).

DRF answers the same errors everywhere: 400 with the refused fields when a request body (or a query) does
not validate, 403 without a signed-in user or an API token, and 404 for an id that is not yours (strangers
and missing objects look alike). Operations document their own extra answers (409, 503) with
extend_schema; this hook adds the common ones to every operation that can give them, so that a client
(and schemathesis, in tests/console/test_api_schema.py) knows every status it may see.
"""

DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
FIELD_ERRORS = {
    "type": "object",
    "description": "The refused fields, each with its messages (nested objects for nested fields).",
    "additionalProperties": True,
}


def _response(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document_error_responses(result, generator, request, public):
    for path, methods in result.get("paths", {}).items():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            takes_input = "requestBody" in operation or any(
                parameter.get("in") == "query" for parameter in operation.get("parameters", []))
            if takes_input:
                responses.setdefault("400", _response("The request does not validate.", FIELD_ERRORS))
            if operation.get("security") != [{}] and "security" in operation:
                responses.setdefault("403", _response("Not signed in, or no valid API token.", DETAIL))
            if "{" in path:
                responses.setdefault("404", _response("No such object of yours.", DETAIL))
    return result


def detail_response(description: str):
    """An error answer with a {"detail": message} body, for extend_schema(responses={status: ...})."""
    from drf_spectacular.utils import OpenApiResponse

    return OpenApiResponse(response=DETAIL, description=description)


def field_errors_response(description: str):
    """An error answer with the refused fields as its body."""
    from drf_spectacular.utils import OpenApiResponse

    return OpenApiResponse(response=FIELD_ERRORS, description=description)
