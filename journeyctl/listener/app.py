"""The listener's ASGI application (Starlette): the endpoints of SPEC §6.

Tokens are checked before anything else; a refused token records nothing and gets a 404
(a click never redirects anywhere then). Writes go through the one writer thread
(writer.Writer) and are answered after their commit. The access log names the route, never
the token in the path or any header.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from journeyctl.data.contacts import read_contacts
from journeyctl.data.events import read_events
from journeyctl.engine.tokens import Claim, Verifier
from journeyctl.listener import feedback, record
from journeyctl.listener.ingest import (
    BadBody,
    ItemError,
    diagnostics_as_errors,
    read_items,
    split_items,
)
from journeyctl.listener.metrics import Metrics
from journeyctl.listener.pages import unsubscribe_page
from journeyctl.listener.writer import Writer
from journeyctl.run.imports import UnknownContacts
from journeyctl.spec.models import ProjectSettings

ACCESS: Final = logging.getLogger("journeyctl.listener.access")
# 43-byte transparent 1x1 GIF
PIXEL: Final = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
NO_STORE: Final = {"Cache-Control": "no-store, private, max-age=0", "Pragma": "no-cache"}
MAX_BODY: Final = 1_000_000  # bytes of one events API request; more is refused with 413


@dataclass
class Config:
    settings: ProjectSettings
    db: str | Path  # a SQLite file or a PostgreSQL URL
    keys: Mapping[str | None, bytes]  # channels.registry.unsubscribe_keys, resolved
    api_token: str | None  # JOURNEYCTL_API_TOKEN; None: the /v1 endpoints answer 503
    clock: Callable[[], datetime]
    max_body: int = MAX_BODY
    scratch: Path | None = None  # where request bodies are spooled for the readers
    writer: Writer | None = field(default=None, repr=False)


class TooLarge(Exception):
    pass


async def _body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _errors(errors: list[ItemError], status: int = 422) -> JSONResponse:
    return JSONResponse(
        {"imported": 0, "errors": [e.as_json() for e in errors[:1000]]}, status_code=status
    )


_ONE_CLICK: Final = re.compile(rb'name="?List-Unsubscribe"?\s*\r?\n\r?\n\s*One-Click', re.I)


def _one_click(body: bytes, content_type: str) -> bool:
    """RFC 8058's body, form-urlencoded (what providers send) or multipart/form-data."""
    if content_type.startswith("multipart/form-data"):
        return _ONE_CLICK.search(body) is not None
    try:
        form = parse_qs(body.decode("ascii"), keep_blank_values=True)
    except UnicodeDecodeError:
        return False
    return form.get("List-Unsubscribe") == ["One-Click"]


def create_app(config: Config) -> Starlette:
    settings = config.settings
    verifier = Verifier(config.keys)
    metrics = Metrics(config.db, config.clock)
    writer = config.writer or Writer(config.db)
    max_age = settings.events.max_age.approx()

    async def write(job: Callable[[Any], Any]) -> Any:
        return await writer.submit(job)

    def not_found() -> Response:
        return HTMLResponse("<!doctype html><p>Unknown or expired link.</p>", 404, NO_STORE)

    # --- one-click unsubscribe ----------------------------------------------------------

    async def unsubscribe_get(request: Request) -> Response:
        token = request.path_params["token"]
        if verifier.check(token, "u") is None:
            return not_found()
        # The form posts to this very URL (relative: right behind any path prefix).
        page = unsubscribe_page(settings, token, done=False)
        return HTMLResponse(page, headers=NO_STORE)

    async def unsubscribe_post(request: Request) -> Response:
        token = request.path_params["token"]
        claim = verifier.check(token, "u")
        if claim is None:
            return not_found()
        try:
            body = await _body(request, 64 * 1024)
        except TooLarge:
            return JSONResponse({"error": "the body is over 64 KB"}, 413)
        if not _one_click(body, request.headers.get("content-type", "")):
            return JSONResponse(
                {"error": "expected the body List-Unsubscribe=One-Click (RFC 8058)"}, 400
            )
        props = (("channel", claim.channel), ("message_id", claim.message_id))
        if await write(record.once(claim.contact_id, "unsubscribed", props, config.clock())):
            metrics.recorded.labels("unsubscribed").inc()
        return HTMLResponse(unsubscribe_page(settings, token, done=True), headers=NO_STORE)

    # --- opens and clicks ---------------------------------------------------------------

    async def opened(request: Request) -> Response:
        claim = verifier.check(request.path_params["token"], "o")
        if claim is not None:
            await _track(claim, "opened", (("message_id", claim.message_id),))
        return Response(PIXEL, media_type="image/gif", headers=NO_STORE)

    async def clicked(request: Request) -> Response:
        claim = verifier.check(request.path_params["token"], "c")
        if claim is None or claim.url is None or not re.match(r"https?://", claim.url, re.I):
            return not_found()
        await _track(claim, "clicked", (("message_id", claim.message_id), ("url", claim.url)))
        return RedirectResponse(claim.url, 302, headers=NO_STORE)

    async def _track(claim: Claim, name: str, props: tuple[tuple[str, Any], ...]) -> None:
        if await write(record.once(claim.contact_id, name, props, config.clock())):
            metrics.recorded.labels(name).inc()

    # --- the events API -----------------------------------------------------------------

    async def api_body(request: Request) -> bytes | Response:
        """The body of an authorized /v1 request, or the response refusing it (503 without
        an API token configured, 401 without the right Bearer token, 413 over the limit)."""
        if config.api_token is None:
            return JSONResponse(
                {"error": "the events API is off: JOURNEYCTL_API_TOKEN is not set"}, 503
            )
        given = request.headers.get("authorization", "")
        expected = f"Bearer {config.api_token}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return JSONResponse(
                {"error": "missing or wrong bearer token"},
                401,
                headers={"WWW-Authenticate": 'Bearer realm="journeyctl"'},
            )
        try:
            return await _body(request, config.max_body)
        except TooLarge:
            return JSONResponse({"error": f"the body is over {config.max_body} bytes"}, 413)

    async def events_api(request: Request) -> Response:
        return await _import(request, read_events, "events")

    async def contacts_api(request: Request) -> Response:
        return await _import(request, read_contacts, "contacts")

    async def _import(request: Request, reader: Callable[..., Any], kind: str) -> Response:
        body = await api_body(request)
        if isinstance(body, Response):
            return body
        try:
            items = split_items(body)
            batch, path = await run_in_threadpool(
                read_items, items, settings, reader, config.scratch
            )
        except BadBody as exc:
            return _errors(exc.errors)
        try:
            now = config.clock()
            if kind == "events":
                new, seen = await write(record.events(batch, now, max_age, path))
            else:
                new, seen = await write(record.contacts(batch, now))
        except UnknownContacts as exc:
            return _errors(diagnostics_as_errors(exc.diagnostics))
        finally:
            path.unlink(missing_ok=True)
        metrics.recorded.labels(f"api_{kind}").inc(new)
        return JSONResponse({"imported": len(batch), "new": new, "already_seen": seen})

    async def feedback_api(request: Request) -> Response:
        body = await api_body(request)
        if isinstance(body, Response):
            return body
        try:
            items = feedback.parse(body, settings.timezone)
            new = await write(feedback.job(items, config.clock()))
        except BadBody as exc:
            return _errors(exc.errors)
        return JSONResponse({"imported": len(items), "new": new})

    # --- operations ---------------------------------------------------------------------

    async def healthz(request: Request) -> Response:
        def probe(store: Any) -> Any:
            return store.conn.execute("SELECT max(finished_at) FROM runs").fetchone()[0]

        try:
            last = await asyncio.wait_for(write(probe), timeout=10)
        except Exception as exc:
            return JSONResponse({"ok": False, "db": f"unreachable: {type(exc).__name__}"}, 503)
        age = None
        if last is not None:
            from journeyctl.store.serialize import to_micros

            age = round(max(0, to_micros(config.clock()) - last) / 1e6, 3)
        return JSONResponse({"ok": True, "db": "ok", "last_tick_age_seconds": age})

    async def metrics_endpoint(request: Request) -> Response:
        text = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if config.writer is None:
            await run_in_threadpool(writer.start)
        try:
            yield
        finally:
            if config.writer is None:
                await run_in_threadpool(writer.close)

    routes = [
        Route("/u/{token}", unsubscribe_get, methods=["GET"]),
        Route("/u/{token}", unsubscribe_post, methods=["POST"]),
        Route("/o/{token}", opened, methods=["GET"]),
        Route("/c/{token}", clicked, methods=["GET"]),
        Route("/v1/events", events_api, methods=["POST"]),
        Route("/v1/contacts", contacts_api, methods=["POST"]),
        Route("/v1/feedback", feedback_api, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(AccessLog, metrics=metrics)
    return app


def _endpoint(path: str) -> str:
    """The route a path takes, with any token left out (for logs and metric labels)."""
    for prefix in ("/u/", "/o/", "/c/"):
        if path.startswith(prefix):
            return prefix + "{token}"
    if path in ("/v1/events", "/v1/contacts", "/v1/feedback", "/healthz", "/metrics"):
        return path
    return "other"


class AccessLog:
    """One line per request: method, route (no token, no query string), status, time.
    Also counts requests by endpoint and status for /metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            took = time.perf_counter() - started
            route = _endpoint(scope.get("path", ""))
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(took)
            client = scope.get("client")
            ACCESS.info(
                '%s "%s %s" %d %.1fms',
                client[0] if client else "-",
                scope.get("method", "-"),
                route,
                status,
                took * 1000,
            )
