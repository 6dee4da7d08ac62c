"""Brands' API tokens and the read-only JSON API (/api/v1), on a real database: tokens made,
listed and revoked; a revoked or unknown token gets 401; another brand's round is 404; the
report is the JSON download, valid against docs/report.schema.json; the OpenAPI document
matches the routes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from hashlib import sha256 as _sha256
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select
from starlette.routing import Route

from bot.bootstrap import App
from bot.clock import SetClock
from bot.config import PROJECT_ROOT
from bot.reports import build_report, render
from bot.reports.formats.json import SCHEMA_ID
from bot.service.api_tokens import (
    MAX_ACTIVE_TOKENS,
    ApiTokenError,
    RateLimiter,
    TokenNotFound,
)
from bot.storage.models import ApiToken, AuditEntry, Organisation
from bot.web.api import routes as api_routes
from bot.web.openapi import openapi_document
from tests.portal_helpers import login, make_account, portal_client
from tests.test_portal_brand import BRAND, CANARY, CSO, OTHER, World, make_world


def sha256(text: str) -> str:
    return _sha256(text.encode()).hexdigest()


async def org_id(app: App, name: str, kind: str = "brand") -> int:
    org = await app.admin.add_org(name, kind)
    return org.id


# ---------------------------------------------------------------------------- the service


async def test_a_token_is_shown_once_and_only_its_hash_is_stored(app: App) -> None:
    brand = await org_id(app, "Noordzee Fashion")
    tokens = app.tokens
    made = await tokens.create(brand, "  ERP   import ", account_id=None)
    assert made.secret.startswith("wcb_") and len(made.secret) == 36
    assert made.info.name == "ERP import" and made.info.prefix == made.secret[:12]
    async with app.db.transaction() as s:
        row = (await s.execute(select(ApiToken))).scalar_one()
    assert made.secret not in (row.token_hash, row.prefix, row.name)
    assert len(row.token_hash) == 64 and row.prefix == made.secret[:12]
    client = await tokens.authenticate(made.secret)
    assert client is not None
    assert (client.org_id, client.org_name, client.token_id) == (brand, "Noordzee Fashion", row.id)


async def test_tokens_are_listed_revoked_and_audited_per_organisation(
    app: App, clock: SetClock
) -> None:
    brand = await org_id(app, "Noordzee Fashion")
    other = await org_id(app, "Other Brand")
    clock.set(datetime(2026, 12, 1, 9, tzinfo=UTC))
    tokens = app.tokens
    first = await tokens.create(brand, "ERP", account_id=None)
    clock.advance(timedelta(hours=1))
    second = await tokens.create(brand, "Dashboard", account_id=None)
    theirs = await tokens.create(other, "Theirs", account_id=None)
    assert [t.name for t in await tokens.list(brand)] == ["Dashboard", "ERP"]
    assert [t.name for t in await tokens.list(other)] == ["Theirs"]
    # Another organisation's token is "not found", and stays valid.
    with pytest.raises(TokenNotFound):
        await tokens.revoke(brand, theirs.info.id, account_id=None)
    assert await tokens.authenticate(theirs.secret) is not None
    clock.advance(timedelta(minutes=5))
    revoked = await tokens.revoke(brand, first.info.id, account_id=None)
    assert revoked.revoked_at == clock() and not revoked.active
    assert await tokens.authenticate(first.secret) is None
    assert await tokens.authenticate(second.secret) is not None
    again = await tokens.revoke(brand, first.info.id, account_id=None)  # twice: no change
    assert again.revoked_at == revoked.revoked_at
    listed = await tokens.list(brand)
    assert [(t.name, t.active) for t in listed] == [("Dashboard", True), ("ERP", False)]
    async with app.db.transaction() as s:
        entries = (
            await s.execute(
                select(AuditEntry.actor, AuditEntry.action, AuditEntry.target, AuditEntry.details)
                .where(AuditEntry.action.like("api_token.%"))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(a, t) for _, a, t, _ in entries] == [
        ("api_token.create", "Noordzee Fashion"),
        ("api_token.create", "Noordzee Fashion"),
        ("api_token.create", "Other Brand"),
        ("api_token.revoke", "Noordzee Fashion"),
    ]
    assert entries[-1][3] == {"token": first.info.id, "name": "ERP", "prefix": first.info.prefix}
    assert all(first.secret not in str(e) for e in entries)


async def test_audit_entries_name_the_portal_account(app: App) -> None:
    account = await make_account(app, "Noordzee Fashion", "brand", "admin")
    tokens = app.tokens
    made = await tokens.create(account.org_id, "ERP", account_id=account.id)
    await tokens.revoke(account.org_id, made.info.id, account_id=account.id)
    assert made.info.created_by == account.id
    async with app.db.transaction() as s:
        actors = set(
            (
                await s.execute(
                    select(AuditEntry.actor).where(AuditEntry.action.like("api_token.%"))
                )
            ).scalars()
        )
    assert actors == {f"web:{account.id}"}


async def test_only_brands_have_tokens_and_names_are_required(app: App) -> None:
    cso = await org_id(app, "Karachi Workers Centre", "cso")
    brand = await org_id(app, "Noordzee Fashion")
    tokens = app.tokens
    with pytest.raises(ApiTokenError, match="only brands"):
        await tokens.create(cso, "ERP", account_id=None)
    with pytest.raises(ApiTokenError, match="only brands"):
        await tokens.create(9999, "ERP", account_id=None)
    with pytest.raises(ApiTokenError, match="name"):
        await tokens.create(brand, "   ", account_id=None)
    with pytest.raises(ApiTokenError, match="at most 100"):
        await tokens.create(brand, "x" * 101, account_id=None)
    made = [await tokens.create(brand, f"t{i}", account_id=None) for i in range(MAX_ACTIVE_TOKENS)]
    with pytest.raises(ApiTokenError, match="at most"):
        await tokens.create(brand, "one too many", account_id=None)
    await tokens.revoke(brand, made[0].info.id, account_id=None)
    await tokens.create(brand, "room again", account_id=None)


async def test_a_token_of_an_organisation_that_is_not_a_brand_is_refused(app: App) -> None:
    brand = await org_id(app, "Noordzee Fashion")
    tokens = app.tokens
    made = await tokens.create(brand, "ERP", account_id=None)
    async with app.db.transaction() as s:  # cannot happen through the portal; still refused
        org = await s.get(Organisation, brand)
        assert org is not None
        org.kind = "cso"
    assert await tokens.authenticate(made.secret) is None


async def test_malformed_and_unknown_tokens_are_refused(app: App) -> None:
    brand = await org_id(app, "Noordzee Fashion")
    tokens = app.tokens
    made = await tokens.create(brand, "ERP", account_id=None)
    for bad in (
        "",
        made.secret[:-1],
        made.secret + "x",
        made.secret.upper(),
        made.info.prefix,
        "wcb_" + "A" * 32,
        " " + made.secret,
        made.secret[:-1] + "\u0660",
    ):
        assert await tokens.authenticate(bad) is None, bad


async def test_last_use_is_recorded_at_most_once_a_minute(app: App, clock: SetClock) -> None:
    brand = await org_id(app, "Noordzee Fashion")
    clock.set(datetime(2026, 12, 1, 9, tzinfo=UTC))
    tokens = app.tokens
    made = await tokens.create(brand, "ERP", account_id=None)
    assert (await tokens.list(brand))[0].last_used_at is None
    start = clock()
    await tokens.authenticate(made.secret)
    for seconds in (1, 30, 59):
        clock.set(start + timedelta(seconds=seconds))
        await tokens.authenticate(made.secret)
    assert (await tokens.list(brand))[0].last_used_at == start
    clock.set(start + timedelta(seconds=61))
    await tokens.authenticate(made.secret)
    assert (await tokens.list(brand))[0].last_used_at == clock()


def test_the_rate_limiter_allows_a_burst_then_one_request_a_second() -> None:
    now = [1000.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.hit("a") == 0.0 for _ in range(60))
    wait = limiter.hit("a")
    assert wait == pytest.approx(1.0)
    assert limiter.hit("b") == 0.0  # per key
    now[0] += 1.0
    assert limiter.hit("a") == 0.0
    assert limiter.hit("a") > 0.0
    now[0] += 60.0
    assert all(limiter.hit("a") == 0.0 for _ in range(60))
    with pytest.raises(ValueError):
        RateLimiter(0)


# ---------------------------------------------------------------------------- the API

SCHEMA = json.loads((PROJECT_ROOT / "docs" / "report.schema.json").read_text())
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# A minimal structural check of an OpenAPI 3.1 document (the parts this API uses).
OPENAPI_SHAPE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["openapi", "info", "paths", "components"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.1\.\d+$"},
        "info": {
            "type": "object",
            "required": ["title", "version"],
            "properties": {"title": {"type": "string"}, "version": {"type": "string"}},
        },
        "servers": {
            "type": "array",
            "items": {"type": "object", "required": ["url"]},
        },
        "security": {"type": "array", "items": {"type": "object"}},
        "paths": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^/"},
            "additionalProperties": {
                "type": "object",
                "propertyNames": {"enum": [*METHODS, "summary", "description", "parameters"]},
                "additionalProperties": {"$ref": "#/$defs/operation"},
            },
        },
        "components": {
            "type": "object",
            "properties": {
                "schemas": {"type": "object", "additionalProperties": {"type": "object"}},
                "responses": {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/$defs/response"},
                },
                "securitySchemes": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {"type": {"enum": ["http", "apiKey", "oauth2"]}},
                    },
                },
            },
        },
    },
    "$defs": {
        "operation": {
            "type": "object",
            "required": ["operationId", "responses"],
            "properties": {
                "operationId": {"type": "string"},
                "parameters": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "in", "schema"],
                        "properties": {"in": {"enum": ["path", "query", "header", "cookie"]}},
                        "if": {"properties": {"in": {"const": "path"}}},
                        "then": {
                            "required": ["required"],
                            "properties": {"required": {"const": True}},
                        },
                    },
                },
                "responses": {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"pattern": "^([1-5][0-9][0-9]|default)$"},
                    "additionalProperties": {"$ref": "#/$defs/response"},
                },
            },
        },
        "response": {
            "type": "object",
            "oneOf": [{"required": ["$ref"]}, {"required": ["description"]}],
        },
    },
}


async def brand_token(app: App, name: str = BRAND) -> str:
    async with app.db.transaction() as s:
        org = (await s.execute(select(Organisation).where(Organisation.name == name))).scalar_one()
    return (await app.tokens.create(org.id, "test", account_id=None)).secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def openapi_validator(doc: dict[str, Any], component: str) -> jsonschema.Draft202012Validator:
    """A validator for one of the document's component schemas, its references resolved
    inside the document (and the embedded report schema by its $id)."""
    registry = Registry().with_resources(
        [
            (
                "urn:wagecheck:openapi",
                Resource.from_contents(doc, default_specification=DRAFT202012),
            ),
            (SCHEMA_ID, Resource.from_contents(doc["components"]["schemas"]["Report"])),
        ]
    )
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:wagecheck:openapi#/components/schemas/{component}"}, registry=registry
    )


@pytest.fixture
async def world(app: App) -> World:
    return await make_world(app)


async def test_requests_without_a_valid_token_get_401_with_a_bearer_challenge(
    app: App, world: World
) -> None:
    token = await brand_token(app)
    revoked = await brand_token(app)
    async with app.db.transaction() as s:
        row = (
            await s.execute(select(ApiToken).where(ApiToken.token_hash == sha256(revoked)))
        ).scalar_one()
        brand_id = row.org_id
    await app.tokens.revoke(brand_id, row.id, account_id=None)
    url = f"/api/v1/rounds/{world.closed}/report"
    async with portal_client(app) as client:
        assert (await client.get(url, headers=bearer(token))).status_code == 200
        for headers, sent in (
            ({}, False),
            ({"Authorization": f"Basic {token}"}, False),
            ({"Authorization": "Bearer"}, False),
            (bearer(token[:-2]), True),
            (bearer("wcb_" + "x" * 32), True),
            (bearer(revoked), True),
        ):
            response = await client.get(url, headers=headers)
            assert response.status_code == 401, headers
            challenge = response.headers["www-authenticate"]
            assert challenge.startswith('Bearer realm="wagecheck"')
            assert ('error="invalid_token"' in challenge) is sent
            assert response.json()["error"] == "unauthorized"
            assert response.headers["cache-control"] == "no-store"
            assert "Factory KHI-001" not in response.text


async def test_a_logged_in_browser_gets_nothing_from_the_api_without_a_token(
    app: App, world: World
) -> None:
    account = await make_account(app, BRAND, "brand", "viewer")
    async with portal_client(app) as client:
        await login(client, account.email or "")
        assert client.cookies.get("wc_session")
        assert (await client.get("/brand/factories")).status_code == 200
        for url in ("/api/v1/factories", "/api/v1/rounds", f"/api/v1/rounds/{world.closed}/report"):
            response = await client.get(url)
            assert response.status_code == 401, url
            assert "set-cookie" not in response.headers


async def test_factories_and_rounds_are_the_brands_own_and_follow_the_openapi_document(
    app: App, world: World
) -> None:
    token = await brand_token(app)
    async with portal_client(app) as client:
        doc = (await client.get("/api/openapi.json")).json()
        factories = await client.get("/api/v1/factories", headers=bearer(token))
        rounds = await client.get("/api/v1/rounds", headers=bearer(token))
    for response in (factories, rounds):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-type"] == "application/json"
        assert "set-cookie" not in response.headers
    openapi_validator(doc, "FactoryList").validate(factories.json())
    openapi_validator(doc, "RoundList").validate(rounds.json())
    assert [f["code"] for f in factories.json()["factories"]] == ["KHI-001", "KHI-003"]
    khi1 = factories.json()["factories"][0]
    assert (khi1["name"], khi1["headcount"], khi1["rounds"]) == ("Factory KHI-001", 300, 2)
    listed = rounds.json()["rounds"]
    assert [r["id"] for r in listed] == [world.pilot, world.closed]  # not the open round
    assert listed[1]["factories"] == ["KHI-001", "KHI-003"]
    assert listed[1]["report"] == f"/api/v1/rounds/{world.closed}/report"
    assert listed[1]["cso"] == CSO and listed[1]["status"] == "closed"


async def test_the_report_is_the_json_download_valid_against_the_schema(
    app: App, world: World
) -> None:
    token = await brand_token(app)
    async with portal_client(app) as client:
        english = await client.get(f"/api/v1/rounds/{world.closed}/report", headers=bearer(token))
        dutch = await client.get(
            f"/api/v1/rounds/{world.closed}/report?lang=nl", headers=bearer(token)
        )
        wrong = await client.get(
            f"/api/v1/rounds/{world.closed}/report?lang=ur", headers=bearer(token)
        )
    assert english.status_code == 200 and english.headers["cache-control"] == "no-store"
    data = english.json()
    jsonschema.validate(data, SCHEMA)
    jsonschema.validate(dutch.json(), SCHEMA)
    report = await build_report(app, world.closed, f"brand:{BRAND}")
    assert english.content == render(report, "json", "en")  # the download's very bytes
    assert dutch.json()["language"] == "nl"
    assert [f["code"] for f in data["factories"]] == ["KHI-001", "KHI-003"]
    assert data["audience"] == {"kind": "brand", "name": BRAND}
    assert data["disclosure"]["k"] == 10 and "quality_flags" not in data
    khi3 = data["factories"][1]
    assert khi3["suppressed"] is True and khi3["respondents"] is None
    assert CANARY not in english.text
    assert wrong.status_code == 400 and wrong.json()["error"] == "bad_request"


async def test_what_the_brand_may_not_see_is_404(app: App, world: World) -> None:
    token = await brand_token(app, OTHER)  # Other Brand: KHI-002 only
    async with portal_client(app) as client:
        for url in (
            f"/api/v1/rounds/{world.pilot}/report",  # KHI-001 only
            f"/api/v1/rounds/{world.open}/report",  # includes KHI-002, but open
            "/api/v1/rounds/999/report",
            "/api/v1/factories/KHI-001/results",
            "/api/v1/factories/KHI-004/results",  # linked to nobody
            "/api/v1/factories/NOPE/results",
        ):
            response = await client.get(url, headers=bearer(token))
            assert response.status_code == 404, url
            assert response.json()["error"] == "not_found"
            assert "Factory KHI-001" not in response.text
        shared = await client.get(f"/api/v1/rounds/{world.closed}/report", headers=bearer(token))
        rounds = await client.get("/api/v1/rounds", headers=bearer(token))
    assert [f["code"] for f in shared.json()["factories"]] == ["KHI-002"]
    assert [r["id"] for r in rounds.json()["rounds"]] == [world.closed]
    assert rounds.json()["rounds"][0]["factories"] == ["KHI-002"]


async def test_factory_results_are_the_factory_objects_of_the_reports(
    app: App, world: World
) -> None:
    token = await brand_token(app)
    async with portal_client(app) as client:
        doc = (await client.get("/api/openapi.json")).json()
        response = await client.get("/api/v1/factories/KHI-001/results", headers=bearer(token))
        small = await client.get("/api/v1/factories/KHI-003/results?lang=nl", headers=bearer(token))
    assert response.status_code == 200
    body = response.json()
    openapi_validator(doc, "FactoryResults").validate(body)
    openapi_validator(doc, "FactoryResults").validate(small.json())
    assert body["factory"]["code"] == "KHI-001"
    assert [r["round"]["id"] for r in body["results"]] == [world.pilot, world.closed]
    for result in body["results"]:
        report = json.loads(
            render(await build_report(app, result["round"]["id"], f"brand:{BRAND}"), "json")
        )
        assert result["result"] == next(f for f in report["factories"] if f["code"] == "KHI-001")
        assert result["k"] == 10
    pilot, closed = (r["result"]["paid_at_least_minimum"] for r in body["results"])
    assert pilot["verdict"] == "likely_not_met" and pilot["n"] == 12
    assert closed["ci95"] == [0.488, 0.808]
    hidden = small.json()["results"][0]["result"]
    assert hidden["suppressed"] is True and hidden["note"].startswith("Minder dan 10")


async def test_the_api_is_read_only_json_and_sets_no_cookies(app: App, world: World) -> None:
    token = await brand_token(app)
    async with portal_client(app) as client:
        post = await client.post("/api/v1/rounds", headers=bearer(token), json={})
        delete = await client.delete(f"/api/v1/rounds/{world.closed}/report", headers=bearer(token))
        unknown = await client.get("/api/v1/answers", headers=bearer(token))
        root = await client.get("/api/v1", headers=bearer(token))
        head = await client.head("/api/v1/factories", headers=bearer(token))
    assert (post.status_code, delete.status_code) == (405, 405)
    assert post.headers["allow"] == "GET, HEAD" and post.json()["error"] == "method_not_allowed"
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert root.status_code == 404
    assert head.status_code == 200
    for response in (post, delete, unknown, root, head):
        assert "set-cookie" not in response.headers
        assert response.headers["cache-control"] == "no-store"


async def test_a_token_is_limited_to_sixty_requests_a_minute(app: App, world: World) -> None:
    token = await brand_token(app)
    other = await brand_token(app, OTHER)
    statuses = []
    async with portal_client(app) as client:
        for _ in range(200):  # refills one a second: a few more than 60 get through
            response = await client.get("/api/v1/factories", headers=bearer(token))
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
        assert statuses[-1] == 429 and statuses.count(200) >= 60
        assert set(statuses[:60]) == {200}
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["error"] == "rate_limited"
        # Per token: another brand's token is not slowed down.
        assert (await client.get("/api/v1/factories", headers=bearer(other))).status_code == 200


# ---------------------------------------------------------------------------- OpenAPI


def _path_template(route: Route) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", route.path)


def _refs(node: Any, base: str = "") -> list[tuple[str, str]]:
    """(base, $ref) pairs: a reference inside a schema with its own $id is relative to it."""
    if isinstance(node, dict):
        base = node.get("$id", base)
        found = [(base, node["$ref"])] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v, base)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v, base)]
    return []


async def test_the_openapi_document_is_well_formed_and_matches_the_routes(app: App) -> None:
    async with portal_client(app) as client:
        response = await client.get("/api/openapi.json")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    doc = response.json()
    jsonschema.Draft202012Validator.check_schema(OPENAPI_SHAPE)
    jsonschema.validate(doc, OPENAPI_SHAPE)
    assert doc["servers"] == [{"url": app.settings.web_base_url.rstrip("/")}]
    # Every /api/v1 route is documented with its methods, and every documented path is a route.
    routed = {
        (_path_template(r), m.lower())
        for r in api_routes
        if isinstance(r, Route) and r.path.startswith("/api/v1/") and "{rest" not in r.path
        for m in (r.methods or ()) - {"HEAD"}
    }
    documented = {(p, m) for p, item in doc["paths"].items() for m in item if m in METHODS}
    assert routed == documented
    assert len(routed) == 4
    # Path parameters are declared, and only those.
    for path, item in doc["paths"].items():
        for op in item.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), path
    # Every reference resolves; the report schema is docs/report.schema.json itself.
    assert doc["components"]["schemas"]["Report"] == SCHEMA
    resources = {"": doc, SCHEMA_ID: SCHEMA}
    refs = _refs(doc)
    assert ("", f"{SCHEMA_ID}#/$defs/factory") in refs and (SCHEMA_ID, "#/$defs/date") in refs
    for base, ref in refs:
        uri, _, pointer = ref.partition("#")
        target: Any = resources[uri or base]
        for part in pointer.strip("/").split("/"):
            target = target[int(part)] if isinstance(target, list) else target[part]
        assert isinstance(target, dict), ref
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


async def test_the_api_docs_page_shows_every_endpoint_without_scripts(app: App) -> None:
    async with portal_client(app) as client:
        response = await client.get("/api/docs")
    assert response.status_code == 200
    html = response.text
    doc = openapi_document()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert f"{method.upper()}</span> {path}" in html
            assert f'id="{op["operationId"]}"' in html
    for name in doc["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    assert "<script" not in html.lower() and "https://cdn" not in html
    assert "Authorization: Bearer $WAGECHECK_TOKEN" in html
    assert "set-cookie" not in response.headers
