"""Fixtures for channel tests: real SMTP and HTTP servers on 127.0.0.1, a Message factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from channel_servers import (
    CountingController,
    SmtpRecorder,
    SmtpServer,
    WebhookServer,
    authenticate,
    free_port,
)

from journeyctl.engine.model import Message, Status


def make_message(**changes: Any) -> Message:
    if "key" in changes:  # the field is `_key`: a key given here, or None to derive it
        changes["_key"] = changes.pop("key")
    base = Message(
        _key="c1:welcome:e1:hello",
        contact_id="c1",
        sequence="welcome",
        step="hello",
        channel="email",
        at=datetime(2025, 3, 4, 9, 0, tzinfo=UTC),
        status=Status.SENT,
        enrollment_id="e1",
        is_marketing=False,
        subject="Welcome, Ada",
        text="Hi Ada,\nwelcome aboard.\n",
        html="<p>Hi Ada,</p><p>welcome aboard.</p>",
        to="ada@example.com",
    )
    return replace(base, **changes)


@pytest.fixture
def message() -> Callable[..., Message]:
    return make_message


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    recorder = SmtpRecorder()
    controller = CountingController(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    recorder.connections = 0  # start() opens one probe connection of its own
    try:
        yield SmtpServer(recorder, controller)
    finally:
        controller.stop()


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    server = WebhookServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
