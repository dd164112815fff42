"""WebhookSender against a real threaded http.server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from channel_servers import RawServer, Reply, WebhookServer, free_port, silent, trickling_http

from journeyctl import __version__
from journeyctl.channels.base import ChannelConfigError
from journeyctl.channels.webhook import MAX_RETRY_AFTER, WebhookSender, parse_retry_after
from journeyctl.clock import FixedClock
from journeyctl.engine.model import Message
from journeyctl.errors import PermanentChannelError, TransientChannelError

MessageFactory = Callable[..., Message]
NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
SECRET = "whsec_test_123"


def channel_for(server: WebhookServer, path: str = "/hook", **kwargs: object) -> WebhookSender:
    options: dict = {"url": server.url(path), "secret": SECRET, "timeout": 5.0}
    options.update(kwargs)
    return WebhookSender("sms", medium="sms", clock=FixedClock(NOW), **options)


def test_posts_signed_json_with_idempotency_key(
    webhook_server: WebhookServer, message: MessageFactory
) -> None:
    webhook_server.replies["/hook"] = Reply(200, {"X-Request-Id": "req-42"})
    channel = channel_for(webhook_server, headers={"Authorization": "Bearer t0k"})
    msg = message(
        channel="sms", to="+821012345678", text="(광고) 김민지님 전용 쿠폰", html=None, variant="b"
    )
    receipt = channel.deliver(msg)
    channel.close()

    assert receipt.key == msg.key
    assert receipt.provider_id == "req-42"
    [request] = webhook_server.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["idempotency-key"] == msg.key
    assert headers["user-agent"] == f"journeyctl/{__version__}"
    assert headers["authorization"] == "Bearer t0k"
    assert headers["content-type"] == "application/json; charset=utf-8"
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-journeyctl-signature"], expected)

    body = json.loads(request.body)
    assert body["key"] == msg.key
    assert body["contact_id"] == "c1"
    assert body["sequence"] == "welcome"
    assert body["step"] == "hello"
    assert body["channel"] == "sms"
    assert body["at"] == "2025-03-04T09:00:00+00:00"
    assert body["to"] == "+821012345678"
    assert body["text"] == "(광고) 김민지님 전용 쿠폰"
    assert body["subject"] == "Welcome, Ada"
    assert body["variant"] == "b"
    assert body["is_marketing"] is False
    assert "status" not in body


def test_signature_changes_with_the_body_and_is_absent_without_secret(
    webhook_server: WebhookServer, message: MessageFactory
) -> None:
    signed = channel_for(webhook_server)
    signed.deliver(message(key="a"))
    signed.deliver(message(key="b"))
    unsigned = channel_for(webhook_server, secret=None)
    unsigned.deliver(message(key="c"))
    for ch in (signed, unsigned):
        ch.close()
    sigs = [r.headers.get("X-Journeyctl-Signature") for r in webhook_server.requests]
    assert sigs[0] and sigs[1] and sigs[0] != sigs[1]
    assert sigs[2] is None


def test_config_headers_cannot_replace_protocol_headers() -> None:
    for name in ("Idempotency-Key", "x-journeyctl-signature", "Content-Type"):
        with pytest.raises(ChannelConfigError, match=f"header '{name}' is set by journeyctl"):
            WebhookSender("sms", url="https://x.test/hook", headers={name: "forged"})


def test_basic_auth_from_url_userinfo(
    webhook_server: WebhookServer, message: MessageFactory
) -> None:
    url = webhook_server.url("/hook?token=abc").replace("http://", "http://zap%40ier:p%3Ass@")
    channel = WebhookSender("zap", url=url)
    channel.deliver(message())
    channel.close()
    [request] = webhook_server.requests
    assert request.path == "/hook?token=abc"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"zap@ier:p:ss").decode()
    names = [name.lower() for name, _ in request.header_list]
    assert names.count("idempotency-key") == 1
    assert "x-journeyctl-signature" not in names


def test_server_closing_the_connection_is_followed_by_a_new_one(
    webhook_server: WebhookServer, message: MessageFactory
) -> None:
    webhook_server.replies["/hook"] = Reply(200, {"Connection": "close"})
    channel = channel_for(webhook_server)
    for i in range(3):
        channel.deliver(message(key=f"k{i}"))
    channel.close()
    assert [json.loads(r.body)["key"] for r in webhook_server.requests] == ["k0", "k1", "k2"]
    assert webhook_server.connections == 3


def test_reopens_once_when_server_dropped_idle_connection(
    webhook_server: WebhookServer, message: MessageFactory
) -> None:
    channel = channel_for(webhook_server)
    channel.deliver(message(key="k1"))
    webhook_server.drop_connections()
    channel.deliver(message(key="k2"))
    channel.close()
    assert [json.loads(r.body)["key"] for r in webhook_server.requests] == ["k1", "k2"]
    assert webhook_server.connections == 2


def test_keep_alive_reuses_one_connection(
    webhook_server: WebhookServer, message: MessageFactory
) -> None:
    channel = channel_for(webhook_server)
    channel.open()
    for i in range(10):
        channel.deliver(message(key=f"k{i}"))
    channel.close()
    assert len(webhook_server.requests) == 10
    assert webhook_server.connections == 1
    assert channel.connections == 1


@pytest.mark.parametrize(
    ("reply", "retry_after"),
    [
        (Reply(429, {"Retry-After": "120"}), 120.0),
        (Reply(429, {"Retry-After": "Tue, 04 Mar 2025 09:05:00 GMT"}), 300.0),
        (Reply(429, {"Retry-After": "999999999999"}), MAX_RETRY_AFTER),
        (Reply(503, {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}), MAX_RETRY_AFTER),
        (Reply(503, {"Retry-After": "garbage"}), None),
        (Reply(500), None),
        (Reply(408), None),
    ],
)
def test_429_5xx_are_transient_with_retry_after(
    webhook_server: WebhookServer, message: MessageFactory, reply: Reply, retry_after: float | None
) -> None:
    webhook_server.replies["/hook"] = reply
    channel = channel_for(webhook_server)
    with pytest.raises(TransientChannelError) as caught:
        channel.deliver(message())
    channel.close()
    assert caught.value.retry_after == retry_after
    assert f"HTTP {reply.status}" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "bounce"), [(400, False), (401, False), (404, False), (410, True)]
)
def test_other_4xx_are_permanent_and_410_bounces(
    webhook_server: WebhookServer, message: MessageFactory, status: int, bounce: bool
) -> None:
    webhook_server.replies["/hook"] = Reply(status, body=b'{"error": "nope"}')
    channel = channel_for(webhook_server)
    with pytest.raises(PermanentChannelError) as caught:
        channel.deliver(message())
    channel.close()
    assert caught.value.bounce is bounce
    assert f"HTTP {status}" in str(caught.value)
    assert '"error": "nope"' in str(caught.value)  # the receiver's reason shows in `status`


def test_slow_server_times_out_as_transient(
    webhook_server: WebhookServer, message: MessageFactory
) -> None:
    webhook_server.replies["/slow"] = Reply(200, delay=5.0)
    channel = channel_for(webhook_server, "/slow", timeout=0.2)
    with pytest.raises(TransientChannelError, match=r"no complete response within 0\.2s"):
        channel.deliver(message())
    channel.close()


@pytest.mark.parametrize("body", [False, True], ids=["headers", "body"])
def test_a_trickled_response_ends_at_the_deadline_not_per_read(
    message: MessageFactory, body: bool
) -> None:
    # A header line (or a body byte) every 0.1 s for 9 s, under http.client's 100 headers: no
    # single read waits anywhere near the timeout, and without a deadline the 200 would come.
    server = RawServer(trickling_http(lines=90, every=0.1, body=body))
    server.start()
    try:
        channel = WebhookSender("sms", url=server.url(), timeout=0.5)
        with pytest.raises(TransientChannelError, match=r"no complete response within 0\.5s"):
            channel.deliver(message())
        channel.close()
    finally:
        server.stop()
    assert server.connections == 1


def test_the_deadline_restarts_with_each_delivery(
    webhook_server: WebhookServer, message: MessageFactory
) -> None:
    # A deadline per delivery, not per channel or connection: six POSTs of 0.2 s each on one
    # kept connection all succeed with a 1 s timeout.
    webhook_server.replies["/hook"] = Reply(200, delay=0.2)
    channel = channel_for(webhook_server, timeout=1.0)
    for i in range(6):
        channel.deliver(message(key=f"k{i}"))
    channel.close()
    assert len(webhook_server.requests) == 6 and webhook_server.connections == 1


def test_a_peer_that_never_answers_is_a_timeout(message: MessageFactory) -> None:
    server = RawServer(silent)
    server.start()
    try:
        channel = WebhookSender("sms", url=server.url(), timeout=0.3)
        with pytest.raises(TransientChannelError, match=r"no complete response within 0\.3s"):
            channel.deliver(message())
        channel.close()
    finally:
        server.stop()


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), 1e300])
def test_an_unusable_timeout_is_a_config_error(timeout: float) -> None:
    with pytest.raises(ChannelConfigError, match=r"timeout .* must be more than 0"):
        WebhookSender("sms", url="https://x.test/hook", timeout=timeout)


def test_connection_refused_is_transient(message: MessageFactory) -> None:
    channel = WebhookSender("sms", url=f"http://127.0.0.1:{free_port()}/hook", timeout=2)
    with pytest.raises(TransientChannelError, match="ConnectionRefusedError"):
        channel.deliver(message())
    channel.close()


def test_bad_config_is_rejected_at_build() -> None:
    with pytest.raises(ChannelConfigError, match="must start with https://"):
        WebhookSender("sms", url="ftp://example.com")
    with pytest.raises(ChannelConfigError, match="line break"):
        WebhookSender("sms", url="https://x.test", headers={"X-A": "1\r\nX-B: 2"})


def test_parse_retry_after() -> None:
    assert parse_retry_after("30", NOW) == 30.0
    assert parse_retry_after("Tue, 04 Mar 2025 08:00:00 GMT", NOW) == 0.0  # in the past
    assert parse_retry_after("", NOW) is None
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("soon", NOW) is None


@pytest.mark.parametrize(
    "value",
    [
        "999999999999",  # OverflowError in the runtime (timedelta) before
        "99999999999",  # the year 5195 before
        "9" * 5000,
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "86401",
    ],
)
def test_parse_retry_after_caps_absurd_values(value: str) -> None:
    assert parse_retry_after(value, NOW) == MAX_RETRY_AFTER


@pytest.mark.parametrize(
    "value",
    ["²", "٣٠", "-5", "1e9", "inf", "nan", "Fri, 31 Dec 99999 23:59:59 GMT", "Mon, 99 Foo"],
)
def test_parse_retry_after_never_raises_on_odd_values(value: str) -> None:
    assert parse_retry_after(value, NOW) is None
