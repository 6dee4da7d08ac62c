"""The brands' read-only JSON API under /api/v1, with per-brand bearer tokens.

`Authorization: Bearer wcb_...` is the only credential: cookies are never read here (so the
API needs no CSRF protection, and a logged-in browser gets nothing from it without a token).
Every answer is JSON with `Cache-Control: no-store`. What a brand may see is decided by
bot/web/brand_portal.py, the same functions the brand's portal pages use; reports come from
`bot.reports.build_report` and are the same documents as the JSON download.

Also here: the OpenAPI document (/api/openapi.json) and a plain HTML rendering of it
(/api/docs), both public: they describe the API, not anyone's data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from bot.reports.formats.json import report_json
from bot.reports.text import report_text
from bot.service import brand_portal as D
from bot.service.api_tokens import ApiClient, ApiTokenService
from bot.web import convertors  # noqa: F401  (the {…:id} route parameter)
from bot.web.deps import portal
from bot.web.openapi import RATE_PER_MINUTE, docs_context, openapi_document
from bot.web.params import query_choice
from bot.web.render import render

REALM = "wagecheck"
NO_STORE = {"Cache-Control": "no-store"}
LANGS = D.REPORT_LANGUAGES
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

Handler = Callable[[Request, ApiClient], Awaitable[Response]]


def token_service(request: Request) -> ApiTokenService:
    """The portal's token service (one per web app: it holds the per-token rate limits)."""
    tokens: ApiTokenService = portal(request).app.tokens
    return tokens


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": code, "message": message},
        status_code=status,
        headers={**NO_STORE, **(headers or {})},
    )


def _data(payload: Any) -> JSONResponse:
    return JSONResponse(payload, headers=NO_STORE)


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme in any case)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def unauthorized(sent: bool) -> JSONResponse:
    challenge = f'Bearer realm="{REALM}"'
    if sent:
        challenge += ', error="invalid_token"'
    message = (
        "The token is not valid (unknown or revoked)."
        if sent
        else "Send an API token: Authorization: Bearer <token>."
    )
    return error(401, "unauthorized", message, {"WWW-Authenticate": challenge})


def not_found(what: str) -> JSONResponse:
    return error(404, "not_found", f"No such {what} among your organisation's results.")


def authenticated(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint behind the bearer-token check and the per-token rate limit."""

    async def endpoint(request: Request) -> Response:
        secret = bearer_token(request.headers.get("authorization"))
        if secret is None:
            return unauthorized(sent=False)
        tokens = token_service(request)
        client = await tokens.authenticate(secret)
        if client is None:
            return unauthorized(sent=True)
        wait = tokens.throttle(client)
        if wait > 0:
            return error(
                429,
                "rate_limited",
                f"At most {RATE_PER_MINUTE} requests a minute per token.",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return await handler(request, client)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _lang(request: Request) -> str:
    """?lang=en|nl; another value (or two of them) is a 400 saying which there are
    (bot/web/params.py; the portal's error handler answers it as the API's JSON error)."""
    return query_choice(request, "lang", LANGS, "en")


def factory_json(f: D.BrandFactoryRow) -> dict[str, Any]:
    return {
        "code": f.code,
        "name": f.name,
        "region": f.region,
        "city": f.city,
        "os_id": f.os_id,
        "headcount": f.headcount,
        "rounds": f.rounds,
    }


def round_json(r: D.BrandRoundRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "cso": r.cso,
        "status": r.status,
        "opened_on": r.opened_on.isoformat() if r.opened_on else None,
        "closed_on": r.closed_on.isoformat() if r.closed_on else None,
        "factories": list(r.factories),
        "report": f"/api/v1/rounds/{r.id}/report",
    }


@authenticated
async def list_factories(request: Request, client: ApiClient) -> Response:
    """GET /api/v1/factories"""
    app = portal(request).app
    return _data(
        {"factories": [factory_json(f) for f in await D.linked_factories(app, client.org_id)]}
    )


@authenticated
async def factory_results(request: Request, client: ApiClient) -> Response:
    """GET /api/v1/factories/{code}/results"""
    app = portal(request).app
    lang = _lang(request)
    factory = await D.linked_factory(app, client.org_id, request.path_params["code"])
    if factory is None:
        return not_found("factory")
    tx = report_text(lang, app.settings.locales_dir)
    results = []
    for rnd, report, _part in await D.factory_history(app, client.org_id, factory):
        document = report_json(report, tx)
        result = next(f for f in document["factories"] if f["code"] == factory.code)
        results.append({"round": round_json(rnd), "k": report.k, "result": result})
    return _data({"factory": factory_json(factory), "results": results})


@authenticated
async def list_rounds(request: Request, client: ApiClient) -> Response:
    """GET /api/v1/rounds"""
    app = portal(request).app
    return _data({"rounds": [round_json(r) for r in await D.visible_rounds(app, client.org_id)]})


@authenticated
async def round_report(request: Request, client: ApiClient) -> Response:
    """GET /api/v1/rounds/{round_id}/report: the JSON download's bytes."""
    app = portal(request).app
    lang = _lang(request)
    report = await D.round_report(app, client.org_id, request.path_params["round_id"])
    if report is None:
        return not_found("round")
    data, media_type, _ = await D.render_download(app, report, "json", lang)
    return Response(data, media_type=media_type, headers=NO_STORE)


ENDPOINTS: list[Route] = [
    Route("/api/v1/factories", list_factories, methods=["GET"], name="api.factories"),
    Route(
        "/api/v1/factories/{code}/results",
        factory_results,
        methods=["GET"],
        name="api.factory_results",
    ),
    Route("/api/v1/rounds", list_rounds, methods=["GET"], name="api.rounds"),
    Route(
        "/api/v1/rounds/{round_id:id}/report",
        round_report,
        methods=["GET"],
        name="api.round_report",
    ),
]


async def other(request: Request) -> Response:
    """Anything else under /api/v1: JSON 405 for a known path, JSON 404 otherwise (the
    portal's HTML error pages are for browsers)."""
    for route in ENDPOINTS:
        match, _ = route.matches(request.scope)
        if match is Match.PARTIAL:  # the path is known, the method is not
            allowed = ", ".join(sorted(route.methods or ()))
            return error(405, "method_not_allowed", "The API is read-only.", {"Allow": allowed})
    return error(404, "not_found", "No such endpoint; see /api/docs.")


def api_base_url(request: Request) -> str:
    """The portal's public address (Settings.web_base_url), as in invite links."""
    base = getattr(portal(request).app.settings, "web_base_url", None)
    return str(base or request.base_url).rstrip("/")


async def openapi_json(request: Request) -> Response:
    """GET /api/openapi.json"""
    body = json.dumps(openapi_document(api_base_url(request)), ensure_ascii=False, indent=1)
    return Response(body, media_type="application/json", headers=NO_STORE)


async def api_docs(request: Request) -> Response:
    """GET /api/docs: the OpenAPI document as a readable page (no scripts)."""
    document = openapi_document(api_base_url(request))
    return render(request, "brand/api_docs.html", docs_context(document))


routes: list[BaseRoute] = [
    *ENDPOINTS,
    Route("/api/openapi.json", openapi_json, methods=["GET"], name="api.openapi"),
    Route("/api/docs", api_docs, methods=["GET"], name="api.docs"),
    Route("/api/v1/{rest:path}", other, methods=ANY_METHOD, name="api.other"),
    Route("/api/v1", other, methods=ANY_METHOD, name="api.root"),
]
