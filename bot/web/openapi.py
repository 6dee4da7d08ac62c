"""The OpenAPI 3.1 description of the brands' read-only JSON API, as data.

Served at /api/openapi.json and rendered as a plain HTML page at /api/docs. The report's own
JSON Schema (docs/report.schema.json, the schema of the JSON download) is embedded as the
`Report` component, so the document is complete without fetching anything. A test checks
that every /api/v1 route is described here and that every path described here is a route.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bot.paths import REPORT_SCHEMA_FILE
from bot.reports.formats.json import SCHEMA_ID
from bot.service.api_tokens import DEFAULT_RATE_PER_MINUTE

FACTORY_RESULT_REF = SCHEMA_ID + "#/$defs/factory"
API_VERSION = "1"
RATE_PER_MINUTE = DEFAULT_RATE_PER_MINUTE


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "429": {"$ref": "#/components/responses/TooManyRequests"},
}
_NOT_FOUND = {"404": {"$ref": "#/components/responses/NotFound"}}
_LANG = {
    "name": "lang",
    "in": "query",
    "required": False,
    "description": "Language of the report's text (labels, notes, method): English or Dutch.",
    "schema": {"type": "string", "enum": ["en", "nl"], "default": "en"},
}
_BAD_REQUEST = {"400": {"$ref": "#/components/responses/BadRequest"}}

_SCHEMAS: dict[str, Any] = {
    "Factory": {
        "type": "object",
        "description": "A factory the brand sources from (linked to the brand by the CSO).",
        "required": ["code", "name", "region", "city", "os_id", "headcount", "rounds"],
        "additionalProperties": False,
        "properties": {
            "code": {"type": "string", "description": "The factory's code, e.g. KHI-001."},
            "name": {"type": "string"},
            "region": {
                "type": "string",
                "description": "sindh, punjab, islamabad, khyber_pakhtunkhwa or balochistan.",
            },
            "city": {"type": "string"},
            "os_id": {"type": ["string", "null"], "description": "Open Supply Hub id."},
            "headcount": {
                "type": ["integer", "null"],
                "description": "Workers, as registered by the CSO.",
            },
            "rounds": {
                "type": "integer",
                "minimum": 0,
                "description": "Closed or published rounds that include the factory.",
            },
        },
    },
    "FactoryList": {
        "type": "object",
        "required": ["factories"],
        "additionalProperties": False,
        "properties": {"factories": {"type": "array", "items": _ref("Factory")}},
    },
    "Round": {
        "type": "object",
        "description": "A closed or published survey round that includes one of the brand's "
        "factories. Open rounds are never listed: results exist only after a round closes.",
        "required": [
            "id",
            "name",
            "cso",
            "status",
            "opened_on",
            "closed_on",
            "factories",
            "report",
        ],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "name": {"type": "string"},
            "cso": {"type": "string", "description": "The organisation that ran the round."},
            "status": {"type": "string", "enum": ["closed", "published"]},
            "opened_on": {"type": ["string", "null"], "format": "date"},
            "closed_on": {"type": ["string", "null"], "format": "date"},
            "factories": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Codes of the brand's factories in the round.",
            },
            "report": {
                "type": "string",
                "description": "Path of the round's report in this API.",
            },
        },
    },
    "RoundList": {
        "type": "object",
        "required": ["rounds"],
        "additionalProperties": False,
        "properties": {"rounds": {"type": "array", "items": _ref("Round")}},
    },
    "FactoryResults": {
        "type": "object",
        "description": "One factory's part of the brand's report of every released round "
        "that includes it, newest first.",
        "required": ["factory", "results"],
        "additionalProperties": False,
        "properties": {
            "factory": _ref("Factory"),
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["round", "k", "result"],
                    "additionalProperties": False,
                    "properties": {
                        "round": _ref("Round"),
                        "k": {
                            "type": "integer",
                            "minimum": 5,
                            "description": "No figure comes from fewer answers than this.",
                        },
                        "result": {
                            "$ref": FACTORY_RESULT_REF,
                            "description": "The factory object of the report (the same as "
                            "in GET /api/v1/rounds/{round_id}/report).",
                        },
                    },
                },
            },
        },
    },
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "string",
                "enum": [
                    "unauthorized",
                    "not_found",
                    "bad_request",
                    "method_not_allowed",
                    "rate_limited",
                ],
            },
            "message": {"type": "string"},
        },
    },
}

_DESCRIPTION = f"""\
Read-only access for a brand to the results of the survey rounds that cover its factories,
for pulling them into its own systems. Everything the API returns has passed the same
disclosure control as the report files a brand downloads: only factories linked to the brand,
only closed or published rounds, and no figure computed from fewer than k answers (k = 10
unless the CSO set it higher); a hidden figure carries no number, only a note.

Authentication: an API token made on the portal's "API tokens" page (by an administrator of
the brand), sent as `Authorization: Bearer <token>`. Cookies are not accepted. Without a
valid token every endpoint answers 401 with `WWW-Authenticate: Bearer`. A revoked token is
refused at once. A factory or round the brand may not see answers 404, whether it exists or
not.

Each token may make {RATE_PER_MINUTE} requests a minute (bursts of up to {RATE_PER_MINUTE});
beyond that the answer is 429 with `Retry-After` in seconds. Responses are not to be cached
(`Cache-Control: no-store`).
"""


@lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    """docs/report.schema.json, the schema of the report's JSON format."""
    data: dict[str, Any] = json.loads(REPORT_SCHEMA_FILE.read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "WageCheck brand API",
            "version": API_VERSION,
            "summary": "Verification results of a brand's factories, read-only.",
            "description": _DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "security": [{"bearerToken": []}],
        "tags": [
            {"name": "factories", "description": "The brand's factories."},
            {"name": "rounds", "description": "Closed rounds and their reports."},
        ],
        "paths": {
            "/api/v1/factories": {
                "get": {
                    "operationId": "listFactories",
                    "tags": ["factories"],
                    "summary": "The brand's factories",
                    "description": "Every factory linked to the brand, by code.",
                    "responses": {
                        "200": _json(_ref("FactoryList"), "The factories."),
                        **_ERRORS,
                    },
                }
            },
            "/api/v1/factories/{code}/results": {
                "get": {
                    "operationId": "getFactoryResults",
                    "tags": ["factories"],
                    "summary": "One factory's results across rounds",
                    "description": "Per closed or published round that includes the factory "
                    "(newest first): the factory's verdict, share paid at least the legal "
                    "minimum with its 95% interval, pay figures and breakdowns, exactly as in "
                    "that round's report.",
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "description": "The factory's code (GET /api/v1/factories).",
                            "schema": {"type": "string"},
                        },
                        _LANG,
                    ],
                    "responses": {
                        "200": _json(_ref("FactoryResults"), "The factory's results."),
                        **_BAD_REQUEST,
                        **_ERRORS,
                        **_NOT_FOUND,
                    },
                }
            },
            "/api/v1/rounds": {
                "get": {
                    "operationId": "listRounds",
                    "tags": ["rounds"],
                    "summary": "Closed rounds covering the brand's factories",
                    "description": "Newest first.",
                    "responses": {"200": _json(_ref("RoundList"), "The rounds."), **_ERRORS},
                }
            },
            "/api/v1/rounds/{round_id}/report": {
                "get": {
                    "operationId": "getRoundReport",
                    "tags": ["rounds"],
                    "summary": "The brand's report of a round",
                    "description": "The same document as the portal's JSON download and the "
                    "`wagecheck report ... --format json` file: JSON Schema "
                    "docs/report.schema.json (embedded below as Report), described in "
                    "docs/report-format.md. Only the brand's own factories are in it.",
                    "parameters": [
                        {
                            "name": "round_id",
                            "in": "path",
                            "required": True,
                            "description": "The round's id (GET /api/v1/rounds).",
                            "schema": {"type": "integer", "minimum": 1},
                        },
                        _LANG,
                    ],
                    "responses": {
                        "200": _json(_ref("Report"), "The report."),
                        **_BAD_REQUEST,
                        **_ERRORS,
                        **_NOT_FOUND,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A brand API token (wcb_ and 32 characters), made and "
                    "revoked on the portal's API tokens page.",
                }
            },
            "schemas": {**_SCHEMAS, "Report": report_schema()},
            "responses": {
                "BadRequest": _json(_ref("Error"), "A parameter has a value it cannot have."),
                "Unauthorized": {
                    **_json(_ref("Error"), "No token, or a malformed, unknown or revoked one."),
                    "headers": {
                        "WWW-Authenticate": {
                            "description": 'Bearer realm="wagecheck", with error="invalid_token" '
                            "when a token was sent but refused.",
                            "schema": {"type": "string"},
                        }
                    },
                },
                "NotFound": _json(
                    _ref("Error"), "No such factory or round, or not one of the brand's."
                ),
                "TooManyRequests": {
                    **_json(_ref("Error"), f"More than {RATE_PER_MINUTE} requests a minute."),
                    "headers": {
                        "Retry-After": {
                            "description": "Seconds to wait.",
                            "schema": {"type": "integer"},
                        }
                    },
                },
            },
        },
    }


def openapi_document(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI document; with `server_url` (this portal's address) as its server."""
    doc = copy.deepcopy(_document())
    if server_url:
        doc["servers"] = [{"url": server_url.rstrip("/")}]
    return doc


# --------------------------------------------------------------- the HTML page (/api/docs)


@dataclass(frozen=True)
class DocParameter:
    name: str
    where: str  # path | query
    required: bool
    type: str
    description: str


@dataclass(frozen=True)
class DocResponse:
    status: str
    description: str
    schema: str | None  # component name


@dataclass(frozen=True)
class DocOperation:
    method: str
    path: str
    anchor: str
    summary: str
    description: str
    parameters: tuple[DocParameter, ...]
    responses: tuple[DocResponse, ...]
    example: str  # a curl command


@dataclass(frozen=True)
class DocProperty:
    name: str
    type: str
    required: bool
    description: str


@dataclass(frozen=True)
class DocSchema:
    name: str
    description: str
    properties: tuple[DocProperty, ...]
    external: str | None  # for the embedded report schema: its $id


def _component(ref: str | None) -> str | None:
    prefix = "#/components/"
    if not ref or not ref.startswith(prefix):
        return None
    return ref.rsplit("/", 1)[-1]


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        ref = schema["$ref"]
        return _component(ref) or ("Report: factory" if ref == FACTORY_RESULT_REF else ref)
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    kind = schema.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    names = []
    for k in kinds:
        if k == "array":
            names.append(f"array of {_type(schema.get('items', {}))}")
        elif k == "string" and schema.get("format"):
            names.append(f"string ({schema['format']})")
        else:
            names.append(k)
    return " | ".join(names)


def _response(doc: dict[str, Any], status: str, spec: dict[str, Any]) -> DocResponse:
    if "$ref" in spec:
        name = _component(spec["$ref"]) or ""
        spec = doc["components"]["responses"][name]
    schema = spec.get("content", {}).get("application/json", {}).get("schema", {})
    return DocResponse(status, spec.get("description", ""), _component(schema.get("$ref")))


def _example(server: str, method: str, path: str, params: list[dict[str, Any]]) -> str:
    examples = {"code": "KHI-001", "round_id": "1"}
    url = server + path
    for p in params:
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", examples.get(p["name"], "1"))
    extra = "" if method == "get" else f" -X {method.upper()}"
    return f'curl{extra} -H "Authorization: Bearer $WAGECHECK_TOKEN" {url}'


def _inline(paragraph: str) -> list[tuple[str, bool]]:
    """A Markdown paragraph as (text, is_code) parts: `code` spans become <code>."""
    parts = paragraph.replace("\n", " ").strip().split("`")
    return [(text, i % 2 == 1) for i, text in enumerate(parts) if text]


def docs_context(doc: dict[str, Any]) -> dict[str, Any]:
    """What templates/brand/api_docs.html shows: the document's operations and schemas."""
    server = doc.get("servers", [{"url": ""}])[0]["url"]
    operations = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            params = op.get("parameters", [])
            operations.append(
                DocOperation(
                    method=method.upper(),
                    path=path,
                    anchor=op["operationId"],
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    parameters=tuple(
                        DocParameter(
                            p["name"],
                            p["in"],
                            bool(p.get("required")),
                            _type(p.get("schema", {}))
                            + (
                                f" (default {p['schema']['default']})"
                                if "default" in p.get("schema", {})
                                else ""
                            ),
                            p.get("description", ""),
                        )
                        for p in params
                    ),
                    responses=tuple(
                        _response(doc, status, spec) for status, spec in op["responses"].items()
                    ),
                    example=_example(server, method, path, params),
                )
            )
    schemas = []
    for name, schema in doc["components"]["schemas"].items():
        required = set(schema.get("required", []))
        schemas.append(
            DocSchema(
                name=name,
                description=schema.get("description", ""),
                properties=tuple(
                    DocProperty(
                        prop,
                        _type(spec),
                        prop in required,
                        spec.get("description", ""),
                    )
                    for prop, spec in schema.get("properties", {}).items()
                    if not prop.startswith("$")
                ),
                external=schema.get("$id"),
            )
        )
    info = doc["info"]
    return {
        "api_title": info["title"],
        "api_version": info["version"],
        "api_summary": info.get("summary", ""),
        "api_description": [_inline(p) for p in info["description"].split("\n\n")],
        "server": server,
        "operations": operations,
        "schemas": schemas,
    }
