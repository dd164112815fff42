"""SmtpSender against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from channel_servers import RawServer, SmtpServer, free_port, trickling_smtp

from journeyctl.channels.base import ChannelConfigError
from journeyctl.channels.smtp import SmtpSender, classify_reply
from journeyctl.clock import FixedClock
from journeyctl.engine.model import Message
from journeyctl.errors import PermanentChannelError, TransientChannelError

MessageFactory = Callable[..., Message]
NOW = datetime(2025, 3, 4, 9, 0, 5, tzinfo=UTC)


def channel_for(server: SmtpServer, **kwargs: object) -> SmtpSender:
    options: dict = {
        "host": server.host,
        "port": server.port,
        "from_": "Brand <hello@brand.test>",
        "timeout": 5,
    }
    options.update(kwargs)
    return SmtpSender("email", clock=FixedClock(NOW), **options)


def test_delivers_and_reuses_one_connection(
    smtp_server: SmtpServer, message: MessageFactory
) -> None:
    channel = channel_for(smtp_server)
    channel.open()
    receipts = [
        channel.deliver(message(key=f"k{i}", to=f"user{i}@example.com", subject=f"안녕 {i}"))
        for i in range(5)
    ]
    channel.close()

    assert smtp_server.connections == 1
    assert [r.key for r in receipts] == [f"k{i}" for i in range(5)]
    assert [r.provider_id for r in receipts] == [f"<k{i}@brand.test>" for i in range(5)]
    assert len(smtp_server.received) == 5
    for i, got in enumerate(smtp_server.received):
        assert got.mail_from == "hello@brand.test"
        assert got.rcpt_tos == [f"user{i}@example.com"]  # one recipient per message
        parsed = email.message_from_bytes(got.content, policy=email.policy.default)
        assert parsed["Message-ID"] == f"<k{i}@brand.test>"
        assert parsed["Subject"] == f"안녕 {i}"
        assert parsed["Date"] == "Tue, 04 Mar 2025 09:00:05 +0000"


def test_deliver_without_open_connects_lazily(
    smtp_server: SmtpServer, message: MessageFactory
) -> None:
    channel = channel_for(smtp_server)
    channel.deliver(message())
    channel.deliver(message(key="k2"))
    channel.close()
    channel.close()  # idempotent
    assert smtp_server.connections == 1
    assert len(smtp_server.received) == 2


def test_reconnects_once_when_server_dropped_idle_connection(
    smtp_server: SmtpServer, message: MessageFactory
) -> None:
    channel = channel_for(smtp_server)
    channel.deliver(message(key="k1"))
    smtp_server.drop_connections()
    channel.deliver(message(key="k2"))
    channel.close()
    assert smtp_server.connections == 2
    assert [r.rcpt_tos for r in smtp_server.received] == [["ada@example.com"]] * 2


def test_connection_refused_is_transient(message: MessageFactory) -> None:
    channel = SmtpSender("email", host="127.0.0.1", port=free_port(), from_="a@b.test", timeout=5)
    with pytest.raises(TransientChannelError, match="cannot connect"):
        channel.deliver(message())


@pytest.mark.parametrize(
    ("where", "reply"),
    [
        ("rcpt", "421 4.3.2 service shutting down"),
        ("rcpt", "451 4.7.1 greylisted, try later"),
        ("rcpt", "452 4.2.2 mailbox full"),
        ("data", "451 4.3.0 local error"),
    ],
)
def test_4xx_is_transient(
    smtp_server: SmtpServer, message: MessageFactory, where: str, reply: str
) -> None:
    replies = (
        smtp_server.behaviour.rcpt_replies
        if where == "rcpt"
        else smtp_server.behaviour.data_replies
    )
    replies["ada@example.com"] = reply
    channel = channel_for(smtp_server)
    with pytest.raises(TransientChannelError) as caught:
        channel.deliver(message())
    assert reply.split()[0] in str(caught.value)
    # The next contact still flows over the same (or, after 421, a fresh) connection.
    channel.deliver(message(key="k2", to="bob@example.com"))
    channel.close()
    assert [r.rcpt_tos for r in smtp_server.received] == [["bob@example.com"]]
    assert smtp_server.connections == (2 if reply.startswith("421") else 1)


@pytest.mark.parametrize(
    ("where", "reply", "bounce"),
    [
        ("rcpt", "550 5.1.1 user unknown", True),
        ("rcpt", "550 mailbox unavailable", True),
        ("rcpt", "551 user not local", True),
        ("rcpt", "553 mailbox name not allowed", True),
        ("rcpt", "554 5.7.1 relay denied", False),
        ("data", "550 5.7.1 message rejected as spam", False),
        ("data", "554 transaction failed", False),
    ],
)
def test_5xx_is_permanent_and_recipient_codes_bounce(
    smtp_server: SmtpServer, message: MessageFactory, where: str, reply: str, bounce: bool
) -> None:
    replies = (
        smtp_server.behaviour.rcpt_replies
        if where == "rcpt"
        else smtp_server.behaviour.data_replies
    )
    replies["ada@example.com"] = reply
    channel = channel_for(smtp_server)
    with pytest.raises(PermanentChannelError) as caught:
        channel.deliver(message())
    assert caught.value.bounce is bounce
    assert reply.split()[0] in str(caught.value)
    channel.deliver(message(key="k2", to="bob@example.com"))
    channel.close()
    assert smtp_server.connections == 1  # RSET kept the connection usable
    assert len(smtp_server.received) == 1


def test_disconnect_after_data_is_transient_and_not_retried(
    smtp_server: SmtpServer, message: MessageFactory
) -> None:
    smtp_server.behaviour.drop_after_data.add("ada@example.com")
    channel = channel_for(smtp_server)
    with pytest.raises(TransientChannelError, match="DATA"):
        channel.deliver(message())
    # Not resent within deliver(): the server may already hold it (Message-ID dedupes).
    assert smtp_server.connections == 1
    channel.deliver(message(key="k2", to="bob@example.com"))
    channel.close()
    assert smtp_server.connections == 2
    assert [r.rcpt_tos for r in smtp_server.received] == [["bob@example.com"]]


def test_slow_server_times_out_as_transient(
    smtp_server: SmtpServer, message: MessageFactory
) -> None:
    smtp_server.behaviour.data_delay["ada@example.com"] = 3.0
    channel = channel_for(smtp_server, timeout=0.3)
    with pytest.raises(TransientChannelError, match=r"SMTP DATA failed: no complete reply within"):
        channel.deliver(message())
    channel.close()
    assert smtp_server.received == []


def test_a_trickled_reply_ends_at_the_deadline_per_delivery(message: MessageFactory) -> None:
    # The server answers DATA with a `250-` line every 0.05 s for 10 s: each read returns
    # well within the timeout, so only a deadline for the whole delivery ends it.
    server = RawServer(trickling_smtp(lines=200, every=0.05))
    server.start()
    try:
        channel = SmtpSender(
            "email", host="127.0.0.1", port=server.port, from_="a@b.test", timeout=0.5
        )
        with pytest.raises(
            TransientChannelError, match=r"SMTP DATA failed: no complete reply within 0\.5s"
        ):
            channel.deliver(message())
        channel.close()
    finally:
        server.stop()


def test_a_trickled_greeting_ends_at_the_deadline(message: MessageFactory) -> None:
    def greeting(conn: Any, stopping: Any) -> None:
        for i in range(200):
            if stopping.wait(0.05):
                return
            conn.sendall(f"220-hello {i}\r\n".encode())
        conn.sendall(b"421 bye\r\n")

    server = RawServer(greeting)
    server.start()
    try:
        channel = SmtpSender(
            "email", host="127.0.0.1", port=server.port, from_="a@b.test", timeout=0.5
        )
        with pytest.raises(
            TransientChannelError, match=r"cannot connect: no complete reply within 0\.5s"
        ):
            channel.deliver(message())
        channel.close()
    finally:
        server.stop()


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), 1e300])
def test_an_unusable_timeout_is_a_config_error(timeout: float) -> None:
    with pytest.raises(ChannelConfigError, match=r"timeout .* must be more than 0"):
        SmtpSender("email", host="localhost", from_="a@b.test", timeout=timeout)


def test_missing_address_is_permanent_and_nothing_is_sent(
    smtp_server: SmtpServer, message: MessageFactory
) -> None:
    channel = channel_for(smtp_server)
    with pytest.raises(PermanentChannelError, match="no email address"):
        channel.deliver(message(to=None))
    with pytest.raises(PermanentChannelError, match="control character"):
        channel.deliver(message(subject="hi\r\nBcc: x@evil.test"))
    channel.close()
    assert smtp_server.received == []
    assert smtp_server.connections == 0  # rejected before connecting


def test_login_and_wrong_password(smtp_server: SmtpServer, message: MessageFactory) -> None:
    good = channel_for(smtp_server, username="mailer", password="s3cret")
    good.deliver(message())
    good.close()
    assert len(smtp_server.received) == 1

    bad = channel_for(smtp_server, username="mailer", password="wrong")
    with pytest.raises(TransientChannelError, match="login failed: 535"):
        bad.deliver(message(key="k2"))
    assert len(smtp_server.received) == 1


def test_starttls_against_a_server_without_it_is_transient(
    smtp_server: SmtpServer, message: MessageFactory
) -> None:
    channel = channel_for(smtp_server, starttls=True)
    with pytest.raises(TransientChannelError, match="STARTTLS"):
        channel.deliver(message())
    assert smtp_server.received == []


def test_bad_from_is_a_config_error() -> None:
    with pytest.raises(ChannelConfigError, match="channel 'email'"):
        SmtpSender("email", host="localhost", from_="Brand <not an address>")


def test_classify_reply_prefers_enhanced_codes() -> None:
    assert classify_reply(550, b"5.1.1 no such user", "DATA").bounce is True  # type: ignore[attr-defined]
    assert classify_reply(550, b"5.7.1 policy", "RCPT").bounce is False  # type: ignore[attr-defined]
    assert isinstance(classify_reply(450, b"4.2.0 busy", "RCPT"), TransientChannelError)
    assert isinstance(classify_reply(354, b"odd", "DATA"), TransientChannelError)
    # Sender/session refusals would fail every message alike: keep them queued.
    assert isinstance(classify_reply(550, b"5.7.1 sender rejected", "MAIL"), TransientChannelError)
    assert isinstance(classify_reply(530, b"5.7.0 auth required", "RCPT"), TransientChannelError)
