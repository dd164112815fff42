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


# --- slow and silent peers -----------------------------------------------------------------


class RawServer:
    """A TCP server on 127.0.0.1 for peers http.server and aiosmtpd cannot play: each
    connection runs `handle(conn, stopping)` in a thread. `stopping` is set by stop(), which
    also closes every connection, so a handler that waits on it never outlives the test."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.connections = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        self._listener.settimeout(0.05)  # polls `stopping`: a closed listener may not wake it
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed
            conn.settimeout(None)  # (accepted sockets inherit the listener's timeout)
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn, self.stopping)
        except OSError:
            pass  # the client gave up (its deadline) and closed
        finally:
            conn.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def read_http_request(conn: socket.socket) -> bytes:
    """Read one request's head and body (by Content-Length) from a raw connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def trickling_http(lines: int = 90, every: float = 0.1, *, body: bool = False) -> Any:
    """A webhook that reads the request, then sends `200 OK` one header line every `every`
    seconds (with `body`: the headers at once, then the body one byte every `every` seconds):
    each read gets a byte well within any per-read timeout, the whole response takes
    lines * every seconds. It does finish, so a client without a deadline gets a 200."""

    def handle(conn: socket.socket, stopping: threading.Event) -> None:
        read_http_request(conn)
        if body:
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {lines}\r\n\r\n".encode())
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for i in range(lines):
            if stopping.wait(every):
                return
            conn.sendall(b"x" if body else f"X-Slow-{i}: {i}\r\n".encode())
        if not body:
            conn.sendall(b"Content-Length: 2\r\nConnection: close\r\n\r\nok")

    return handle


def silent(conn: socket.socket, stopping: threading.Event) -> None:
    """Accepts and reads whatever comes, never answers, keeps the connection open."""
    conn.settimeout(0.05)
    while not stopping.is_set():
        try:
            if not conn.recv(65536):
                return  # the client closed
        except TimeoutError:
            continue


def trickling_smtp(lines: int = 200, every: float = 0.05) -> Any:
    """An SMTP server that accepts one message, then answers its DATA with a multi-line
    `250-` reply one line every `every` seconds (then `250 queued`, then closes)."""

    def handle(conn: socket.socket, stopping: threading.Event) -> None:
        f = conn.makefile("rb")
        conn.sendall(b"220 trickle.test ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250 trickle.test\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                while f.readline() not in (b".\r\n", b""):
                    pass
                for i in range(lines):
                    if stopping.wait(every):
                        return
                    conn.sendall(f"250-still thinking {i}\r\n".encode())
                conn.sendall(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                conn.sendall(b"250 OK\r\n")

    return handle
