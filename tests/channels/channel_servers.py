"""Real servers on 127.0.0.1 for channel tests: aiosmtpd SMTP and a threaded http.server.

Helpers live here (importable by test modules for types); fixtures are in conftest.py.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session


def free_port() -> int:
    """A port nobody listens on (for "connection refused") or to bind a server to."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- SMTP ------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class SmtpBehaviour:
    """What the test server answers; keys are recipient addresses."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: dict[str, str] = field(default_factory=dict)
    drop_after_data: set[str] = field(default_factory=set)
    data_delay: dict[str, float] = field(default_factory=dict)  # seconds before replying


class SmtpRecorder:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.behaviour = SmtpBehaviour()
        self.connections = 0
        self.live: set[SMTP] = set()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.behaviour.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        rcpt = envelope.rcpt_tos[0]
        if rcpt in self.behaviour.drop_after_data:
            assert server.transport is not None
            # message content read, no reply: the crash window
            server.transport.abort()  # type: ignore[attr-defined]
            return "250 never sent"
        if rcpt in self.behaviour.data_delay:
            await asyncio.sleep(self.behaviour.data_delay[rcpt])
        reply = self.behaviour.data_replies.get(rcpt)
        if reply:
            return reply
        content = envelope.original_content or b""
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 2.0.0 queued"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = getattr(auth_data, "login", None) == b"mailer" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


class CountingController(Controller):
    def factory(self) -> SMTP:
        recorder: SmtpRecorder = self.handler

        class CountingSMTP(SMTP):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                recorder.connections += 1
                recorder.live.add(self)
                super().connection_made(transport)

            def connection_lost(self, exc: Exception | None) -> None:
                recorder.live.discard(self)
                super().connection_lost(exc)

        return CountingSMTP(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    def __init__(self, recorder: SmtpRecorder, controller: CountingController) -> None:
        self.recorder, self.controller = recorder, controller
        self.host, self.port = "127.0.0.1", controller.port

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    @property
    def behaviour(self) -> SmtpBehaviour:
        return self.recorder.behaviour

    @property
    def connections(self) -> int:
        return self.recorder.connections

    def drop_connections(self) -> None:
        """Close every client connection server-side (an idle timeout), and wait until gone."""

        async def drop() -> None:
            for smtp in list(self.recorder.live):
                if smtp.transport is not None:
                    smtp.transport.close()

        asyncio.run_coroutine_threadsafe(drop(), self.controller.loop).result(5)
        deadline = time.monotonic() + 5
        while self.recorder.live and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not self.recorder.live


# --- webhooks ------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    delay: float = 0.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)  # repeats kept


class WebhookServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.replies: dict[str, Reply] = {}
        self.connections = 0
        self.sockets: list[socket.socket] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable
            disable_nagle_algorithm = True  # headers and body go in two writes

            def setup(self) -> None:
                with outer._lock:
                    outer.connections += 1
                    outer.sockets.append(self.request)
                super().setup()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with outer._lock:
                    outer.requests.append(
                        Request(self.path, dict(self.headers.items()), body, self.headers.items())
                    )
                reply = outer.replies.get(self.path, Reply())
                if reply.delay and outer.stopping.wait(reply.delay):
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def drop_connections(self) -> None:
        """Close every kept-alive connection server-side, as an idle timeout would."""
        with self._lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
