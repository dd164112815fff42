"""Webhooks (SMS, push, chat, Make/Zapier): signed JSON POSTs over one keep-alive connection.

2xx is delivered; 408, 429, 5xx, timeouts and connection errors are transient (with the
server's Retry-After, parsed without overflow and bounded by MAX_RETRY_AFTER); other 4xx are
permanent, and 410 Gone is a bounce. `timeout:` is one deadline for the whole delivery
(connect, request, the complete response), not a limit per socket read (channels/deadline.py).

Built on http.client rather than httpx: an httpx POST costs several times the client CPU of
an http.client keep-alive request (bench/bench_delivery.py; figures in bench/RESULTS.md), and
the webhook goal is bounded by that CPU, not by the network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import re
import socket
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from journeyctl import __version__, faults
from journeyctl.channels.base import ChannelConfigError, Receipt
from journeyctl.channels.deadline import Deadline, DeadlineSocket, check_timeout
from journeyctl.channels.records import message_record
from journeyctl.channels.testmark import TEST_HEADER, is_test_key
from journeyctl.clock import Clock, SystemClock
from journeyctl.engine.model import Message
from journeyctl.errors import PermanentChannelError, TransientChannelError
from journeyctl.redact import redact_text, redact_url

USER_AGENT = f"journeyctl/{__version__}"
SIGNATURE_HEADER = "X-Journeyctl-Signature"
# Fields the receiver does not need: `status` is always "sent" here, `reason` always empty.
_OMITTED = ("status", "reason")
# Set by the channel itself; a `headers:` entry may not replace them.
PROTECTED_HEADERS = frozenset(
    {"idempotency-key", "x-journeyctl-signature", "content-type", "content-length", "host"}
)
# The longest Retry-After taken as said, in seconds (a day): a larger delay or a later date
# is read as this. It keeps the number finite and sane; the runtime then waits at most its
# own RETRY_CAP (run/tick.py) whatever the server asked.
MAX_RETRY_AFTER = 86400.0
_DELTA_SECONDS = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() accepts "²"


@cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA store costs milliseconds; once per process, not once per batch.
    return ssl.create_default_context()


def webhook_body(message: Message) -> bytes:
    """The exact bytes POSTed (and signed): compact UTF-8 JSON of the message."""
    record = message_record(message)
    for name in _OMITTED:
        record.pop(name, None)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of body>`: receivers recompute it and compare_digest."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date, between 0
    and MAX_RETRY_AFTER; None when absent or unreadable. Never raises, whatever the value
    (`999999999999`, a date in the year 9999, 5,000 digits)."""
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        # Compared as text first: no float of a thousand digits, no int-digits limit.
        if len(value.lstrip("0")) > len(str(int(MAX_RETRY_AFTER))):
            return MAX_RETRY_AFTER
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


class WebhookSender:
    """The `webhook` channel type: POSTs messages to a URL (its settings are read from
    spec.models.WebhookChannel)."""

    def __init__(
        self,
        name: str,
        *,
        url: str,
        secret: str | None = None,
        medium: str = "other",
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        self.name, self.medium, self.url, self.timeout = name, medium, url, timeout
        problem = check_timeout(name, timeout)
        if problem:
            raise ChannelConfigError(problem)
        self._deadline = Deadline(timeout)  # restarted by each delivery
        # Error texts name the URL redacted (its userinfo and query values are credentials
        # more often than not): they reach stderr, the ledger, `status` and `messages`.
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:  # a port that is not a number, an unclosed [IPv6
            raise ChannelConfigError(
                f"channel {name!r}: url {redact_url(url)!r} is not a valid URL ({exc})"
            ) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ChannelConfigError(
                f"channel {name!r}: url {redact_url(url)!r} must start with https://"
            )
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"User-Agent": USER_AGENT}
        if parts.username is not None:  # https://user:pass@host/... -> Basic auth
            userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(
                userinfo.encode("utf-8")
            ).decode("ascii")
        for key, value in (headers or {}).items():
            if any(c in f"{key}{value}" for c in "\r\n\0"):
                raise ChannelConfigError(f"channel {name!r}: header {key!r} contains a line break")
            if key.lower() in PROTECTED_HEADERS:
                raise ChannelConfigError(
                    f"channel {name!r}: header {key!r} is set by journeyctl; remove it"
                )
            self._headers[key] = value
        self._secret = secret
        self._clock = clock or SystemClock()
        self._conn: http.client.HTTPConnection | None = None
        self.connections = 0  # connections opened so far (reuse is observable)

    @classmethod
    def from_config(cls, name: str, config: dict[str, Any], *, base_dir: Path) -> WebhookSender:
        return cls(
            name,
            url=config["url"],
            secret=config.get("secret"),
            medium=config["medium"],
            headers=config.get("headers") or {},
            timeout=config["timeout"],
        )

    def open(self) -> None:
        """Nothing to do until the first POST: the connection opens then and is kept."""

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self.timeout, context=_tls_context()
                )
            else:
                self._conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self.timeout
                )
        conn = self._conn
        if conn.sock is None:
            # Connect and TLS handshake get what is left of the delivery's deadline (CPython
            # bounds a whole handshake by the socket timeout); then every send and read does.
            conn.timeout = self._deadline.remaining()
            conn.connect()
            real = cast(socket.socket, conn.sock)
            conn.sock = DeadlineSocket(real, self._deadline)  # type: ignore[assignment]
            self.connections += 1
        return conn

    def deliver(self, message: Message) -> Receipt:
        body = webhook_body(message)
        headers = {
            **self._headers,
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": message.key,  # SPEC §5: receivers drop the crash-window repeat
        }
        if is_test_key(message.key):  # `journeyctl send-test`
            headers[TEST_HEADER] = "yes"
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        status, reason, response_headers, data = self._post(body, headers)
        if 200 <= status < 300:
            return Receipt(message.key, provider_id=response_headers.get("x-request-id"))
        snippet = redact_text(data.decode("utf-8", "replace").strip().replace("\n", " ")[:200])
        detail = f"webhook {self.name}: HTTP {status} {reason} {snippet}".strip()
        if status in (408, 429) or status >= 500:
            retry_after = parse_retry_after(response_headers.get("retry-after"), self._clock.now())
            raise TransientChannelError(detail, retry_after=retry_after)
        raise PermanentChannelError(detail, bounce=status == 410)

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str, dict[str, str], bytes]:
        """POST on the kept connection; reopen once if the server closed it while idle. The
        whole of it, reopening included, ends by the deadline `timeout` seconds from now."""
        self._deadline.start()
        for attempt in range(2):
            reused = self._conn is not None and self._conn.sock is not None
            try:
                conn = self._connection()
                conn.request("POST", self._target, body=body, headers=headers)
                faults.point("mid-send")
                response = conn.getresponse()
                data = response.read()  # read fully, so the connection can carry the next one
            except TimeoutError as exc:
                self.close()
                raise TransientChannelError(
                    f"webhook {self.name}: no complete response within {self.timeout:g}s "
                    "(timeout: the deadline for connecting, sending and the whole response)"
                ) from exc
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if reused and attempt == 0:
                    continue  # a keep-alive connection the server had already closed
                raise TransientChannelError(
                    f"webhook {self.name}: {type(exc).__name__}: {redact_text(str(exc))}"
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise TransientChannelError(
                    f"webhook {self.name}: {type(exc).__name__}: {redact_text(str(exc))}"
                ) from exc
            lowered = {k.lower(): v for k, v in response.getheaders()}
            return response.status, response.reason, lowered, data
        raise AssertionError("unreachable")  # pragma: no cover
