"""Webhooks (SMS, push, chat, Make/Zapier): signed JSON POSTs over one keep-alive client.

2xx is delivered; 408, 429, 5xx, timeouts and connection errors are transient (with the
server's Retry-After); other 4xx are permanent, and 410 Gone is a bounce.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from journeyctl import __version__
from journeyctl.channels.base import ChannelConfigError, Receipt
from journeyctl.channels.records import message_record
from journeyctl.clock import Clock, SystemClock
from journeyctl.engine.model import Message
from journeyctl.errors import PermanentChannelError, TransientChannelError

USER_AGENT = f"journeyctl/{__version__}"
SIGNATURE_HEADER = "X-Journeyctl-Signature"
# Fields the receiver does not need: `status` is always "sent" here, `reason` always empty.
_OMITTED = ("status", "reason")


@cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~30 ms; once per process, not once per batch.
    return httpx.create_ssl_context()


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
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class WebhookChannel:
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name, self.medium, self.url, self.timeout = name, medium, url, timeout
        if not url.lower().startswith(("http://", "https://")):
            raise ChannelConfigError(f"channel {name!r}: url {url!r} must start with https://")
        self._secret = secret
        self._headers = {"User-Agent": USER_AGENT, **(headers or {})}
        for key, value in self._headers.items():
            if any(c in f"{key}{value}" for c in "\r\n\0"):
                raise ChannelConfigError(f"channel {name!r}: header {key!r} contains a line break")
        self._clock = clock or SystemClock()
        self._transport = transport
        self._client: httpx.Client | None = None

    @classmethod
    def from_config(cls, name: str, config: dict[str, Any], *, base_dir: Path) -> WebhookChannel:
        return cls(
            name,
            url=config["url"],
            secret=config.get("secret"),
            medium=config["medium"],
            headers=config.get("headers") or {},
            timeout=config["timeout"],
        )

    def open(self) -> None:
        if self._client is None:
            self._client = httpx.Client(
                headers=self._headers,
                timeout=self.timeout,
                follow_redirects=False,
                transport=self._transport,
                verify=_tls_context(),
            )

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def deliver(self, message: Message) -> Receipt:
        self.open()
        assert self._client is not None
        body = webhook_body(message)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": message.key,  # SPEC §5: receivers drop the crash-window repeat
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientChannelError(
                f"webhook {self.name}: no response within {self.timeout:g}s ({type(exc).__name__})"
            ) from exc
        except httpx.HTTPError as exc:
            raise TransientChannelError(
                f"webhook {self.name}: {type(exc).__name__}: {exc}"
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            return Receipt(message.key, provider_id=response.headers.get("x-request-id"))
        detail = f"webhook {self.name}: HTTP {status} {response.reason_phrase} {_snippet(response)}"
        if status in (408, 429) or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._clock.now())
            raise TransientChannelError(detail.strip(), retry_after=retry_after)
        raise PermanentChannelError(detail.strip(), bounce=status == 410)


def _snippet(response: httpx.Response) -> str:
    """The start of an error body, for `status`; never the whole page."""
    text = response.text.strip().replace("\n", " ")
    return text[:200]
