"""The OpenAPI document: request bodies, query parameters and security schemes.

Bodies are read by our own lenient reader rather than by FastAPI, so the
request schemas are declared here (`openapi_extra`) and their models are added
to the document's components.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter

from syncd.api import wire
from syncd.api.fields import MAX_CORRELATION_ID, TIME_EXAMPLE

REF = "#/components/schemas/{model}"

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from POST /oauth/token (OAuth 2.0 refresh-token flow).",
    },
    "oauth2": {
        "type": "oauth2",
        "description": (
            "grant_type=refresh_token (client_id + refresh_token; the answer carries a new, "
            "rotated refresh token) or grant_type=client_credentials."
        ),
        "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}}},
    },
    "hmacClientId": {"type": "apiKey", "in": "header", "name": "X-Syncd-Client-Id"},
    "hmacTimestamp": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Syncd-Timestamp",
        "description": "Unix time in seconds; refused when off the server clock by more "
        "than the tenant's max_skew_seconds.",
    },
    "hmacSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Syncd-Signature",
        "description": "base64(HMAC-SHA256(secret, METHOD\\npath\\ncanonical query\\n"
        "timestamp\\nhex(SHA-256(body)))); each signature is accepted once.",
    },
    "legacyBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "Administrator login/password; off unless the tenant enables it.",
    },
}

API_SECURITY: list[dict[str, list[str]]] = [
    {"bearerAuth": []},
    {"oauth2": []},
    {"hmacClientId": [], "hmacTimestamp": [], "hmacSignature": []},
    {"legacyBasic": []},
]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def json_body(schema: dict[str, Any], example: Any) -> dict[str, Any]:
    """openapi_extra for a JSON request body (trailing commas are tolerated on input)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": example}},
        }
    }


def model_body(model: type[BaseModel], example: Any) -> dict[str, Any]:
    return json_body(_ref(model), example)


def query_parameter(
    name: str, schema: dict[str, Any], *, required: bool, description: str
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description + " (the name is matched in any case)",
    }


CORRELATION_QUERY = query_parameter(
    "salesforceCorrelationId",
    {"type": "string", "maxLength": MAX_CORRELATION_ID, "pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"},
    required=False,
    description="request id for end-to-end telemetry",
)


def time_query(name: str, description: str) -> dict[str, Any]:
    return query_parameter(
        name,
        {"type": "string", "format": "date-time", "examples": [TIME_EXAMPLE]},
        required=True,
        description=description,
    )


def _component_schemas(types: Iterable[Any]) -> dict[str, Any]:
    """JSON schemas of the request models and everything they refer to."""
    schemas: dict[str, Any] = {}
    for item in types:
        schema = TypeAdapter(item).json_schema(ref_template=REF, mode="validation")
        schemas.update(schema.pop("$defs", {}))
        schemas[item.__name__] = schema
    return schemas


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    wire.MeetingIn,
    wire.MeetingPatch,
    wire.MeetingRef,
    wire.AvailabilityEntry,
)


def install_openapi(app: FastAPI, extra_models: Iterable[type[BaseModel]] = ()) -> None:
    """Generate the document once, with the request models and security schemes added."""
    models = (*REQUEST_MODELS, *extra_models)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for name, schema in _component_schemas(models).items():
            schemas.setdefault(name, schema)
        components["securitySchemes"] = SECURITY_SCHEMES
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
