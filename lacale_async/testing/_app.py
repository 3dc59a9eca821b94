"""The sandbox's aiohttp application: routes plus one middleware for the cross-cutting rules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ._downloads import details_page, download, download_with_token, token_key_of
from ._faults import answer_fault
from ._http import EXCHANGE, STATE, Exchange, Reject, charge, json_response, key_from_request
from ._read_endpoints import meta, search
from ._records import RecordedRequest, redact_query
from ._state import SandboxState
from ._upload import upload

__all__ = ["MAX_UPLOAD_BYTES", "build_app"]

# Big multi-file torrents run to several MB; aiohttp's 1 MiB default would refuse them.
MAX_UPLOAD_BYTES = 32 * 1024 * 1024

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Route name -> endpoint (for limits, faults and the log): a token link is a download.
_ENDPOINT_OF_ROUTE = {
    "search": "search",
    "meta": "meta",
    "upload": "upload",
    "download": "download",
    "download-token": "download",
}


def _client_ip(request: web.Request, trust_forwarded: bool) -> str | None:
    if trust_forwarded:
        first = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        if first:
            return first
    return request.remote


def _exchange(state: SandboxState, request: web.Request) -> Exchange:
    """Describe the request at its arrival: endpoint, address, key (or token's key)."""
    route_name = request.match_info.route.name
    key, via = key_from_request(request)
    exchange = Exchange(
        arrived_at=state.clock.now(),
        endpoint=_ENDPOINT_OF_ROUTE.get(route_name or ""),
        client_ip=_client_ip(request, state.config.trust_forwarded_for),
        key=key,
        auth_via=via,
    )
    if route_name == "download-token":
        # Known at arrival, so a token download counts against its key like any download.
        exchange.token_key = token_key_of(state, request)
    return exchange


@web.middleware
async def _middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Log the request, inject faults and latency, and answer every error in JSON."""
    state = request.app[STATE]
    exchange = _exchange(state, request)
    # Releases published with a delay appear once their time has come on the sandbox clock.
    state.release_due(exchange.arrived_at)
    token = EXCHANGE.set(exchange)
    status: int | None = None
    fault_kind: str | None = None
    try:
        fault = state.faults.take(exchange.endpoint, request.path)
        reaches_handler = fault is None or fault.kind == "delay"
        # The tracker counts a request when it arrives, not when a slow answer gets round to
        # it; a v1 upload with its key in the form is counted once the form is read.
        key_known = exchange.key is not None or exchange.endpoint != "upload"
        if reaches_handler and exchange.endpoint is not None and key_known:
            charge(state, exchange)
        if state.config.latency > 0:
            await state.clock.sleep(state.config.latency)
        if fault is not None:
            fault_kind = fault.kind
            if fault.delay > 0:
                await state.clock.sleep(fault.delay)
            if fault.kind != "delay":
                response = await answer_fault(fault, request)
                status = None if fault.kind == "drop" else response.status
                return response
        try:
            response = await handler(request)
        except Reject as reject:
            response = json_response(
                {"error": reject.message}, status=reject.status, headers=reject.headers
            )
        except web.HTTPException as exc:
            # Router misses (404, 405) and aiohttp's own refusals (413...) answer JSON too.
            allow = exc.headers.get("Allow")
            response = json_response(
                {"error": exc.reason},
                status=exc.status,
                headers={"Allow": allow} if allow else None,
            )
        status = response.status
        return response
    finally:
        EXCHANGE.reset(token)
        state.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                endpoint=exchange.endpoint,
                query=redact_query(request.query.items()),
                arrived_at=exchange.arrived_at,
                status=status,
                client_ip=exchange.client_ip,
                key_name=exchange.key_name,
                auth_via=exchange.auth_via,
                fault=fault_kind,
                user_agent=request.headers.get("User-Agent"),
            )
        )


def build_app(state: SandboxState) -> web.Application:
    """Build the sandbox application around ``state``.

    Args:
        state: Keys, catalogue, limits, cache, faults and logs of this sandbox.

    Returns:
        The application; its routes are named after the endpoints.
    """
    app = web.Application(middlewares=[_middleware], client_max_size=MAX_UPLOAD_BYTES)
    app[STATE] = state
    app.router.add_get("/api/external", search, name="search")
    app.router.add_get("/api/external/meta", meta, name="meta")
    app.router.add_post("/api/external/upload", upload, name="upload")
    app.router.add_get("/api/torrents/download/{info_hash}", download, name="download")
    if state.config.profile == "live":
        app.router.add_get("/api/download/{info_hash}", download_with_token, name="download-token")
        app.router.add_get("/torrents/{slug}", details_page, name="details")
    return app
