"""build_channels: `type:` -> class, `${NAME}` from the environment, built only when used."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from channel_servers import SmtpServer, WebhookServer

from journeyctl.channels.base import ChannelConfigError, UnsetVariableError
from journeyctl.channels.outbox import FileOutbox
from journeyctl.channels.rate import RateLimited
from journeyctl.channels.registry import build_channels, resolve_env
from journeyctl.channels.smtp import SmtpSender
from journeyctl.channels.webhook import WebhookSender
from journeyctl.engine.model import Message
from journeyctl.errors import UsageError
from journeyctl.spec.models import ProjectSettings

MessageFactory = Callable[..., Message]


def settings(channels: dict) -> ProjectSettings:
    return ProjectSettings.model_validate({"channels": channels})


def test_resolve_env() -> None:
    env = {"HOST": "mx.example.com", "PORT": "25", "EMPTY": ""}
    assert resolve_env("${HOST}:${PORT}", env) == "mx.example.com:25"
    assert resolve_env("plain", env) == "plain"
    assert resolve_env("x${EMPTY}y", env) == "xy"
    assert resolve_env("$HOST {HOST}", env) == "$HOST {HOST}"
    with pytest.raises(UnsetVariableError) as caught:
        resolve_env("${HOST}/${NOPE}", env)
    assert caught.value.variable == "NOPE"


def test_default_project_gets_the_file_outbox(tmp_path: Path, message: MessageFactory) -> None:
    channels = build_channels(ProjectSettings(), {}, base_dir=tmp_path)
    assert list(channels) == ["outbox"]
    outbox = channels["outbox"]
    assert isinstance(outbox, FileOutbox)
    outbox.deliver(message(channel="outbox"))
    channels.close()
    [line] = (tmp_path / "outbox" / "outbox.jsonl").read_text().splitlines()
    assert json.loads(line)["key"] == "c1:welcome:e1:hello"


def test_absolute_outbox_path_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    channels = build_channels(
        settings({"out": {"type": "file", "path": str(target)}}), {}, base_dir=tmp_path / "proj"
    )
    outbox = channels["out"]
    assert isinstance(outbox, FileOutbox)
    assert outbox.file == target / "out.jsonl"


def test_unset_variable_fails_only_when_the_channel_is_used(tmp_path: Path) -> None:
    config = settings(
        {
            "email": {"type": "smtp", "host": "${SMTP_HOST}", "from": "a@b.test"},
            "sms": {"type": "webhook", "url": "https://x.test", "secret": "${SMS_SECRET}"},
            "outbox": {"type": "file"},
        }
    )
    channels = build_channels(config, {}, base_dir=tmp_path)  # nothing built yet: no error
    assert "email" in channels and len(channels) == 3
    assert channels.medium("email") == "email"
    assert isinstance(channels["outbox"], FileOutbox)  # other channels still work
    with pytest.raises(UsageError) as caught:
        channels["sms"]
    assert str(caught.value) == (
        "channel 'sms': field.secret uses ${SMS_SECRET}, but the environment variable "
        "SMS_SECRET is not set; export it before running"
    )
    with pytest.raises(
        UnsetVariableError, match=r"channel 'email': field.host uses \$\{SMTP_HOST\}"
    ):
        channels["email"]
    assert list(channels.built) == ["outbox"]


def test_unknown_channel_name(tmp_path: Path) -> None:
    channels = build_channels(ProjectSettings(), {}, base_dir=tmp_path)
    assert channels.get("email") is None
    with pytest.raises(
        ChannelConfigError, match=r"no channel named .email.; journey\.yaml defines outbox"
    ):
        channels["email"]


def test_smtp_channel_built_from_env_delivers(
    tmp_path: Path, smtp_server: SmtpServer, message: MessageFactory
) -> None:
    config = settings(
        {
            "email": {
                "type": "smtp",
                "host": "${SMTP_HOST}",
                "port": smtp_server.port,
                "username": "${SMTP_USER}",
                "password": "${SMTP_PASSWORD}",
                "from": "${FROM_NAME} <hello@brand.test>",
                "reply_to": "help@brand.test",
                "timeout": 5,
            }
        }
    )
    env = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_USER": "mailer",
        "SMTP_PASSWORD": "s3cret",
        "FROM_NAME": "브랜드",
    }
    with build_channels(config, env, base_dir=tmp_path) as channels:
        email_channel = channels["email"]
        assert isinstance(email_channel, SmtpSender)
        assert channels["email"] is email_channel  # built once
        email_channel.deliver(message())
    [got] = smtp_server.received
    parsed = email.message_from_bytes(got.content, policy=email.policy.default)
    assert parsed["From"].addresses[0].display_name == "브랜드"
    assert parsed["Reply-To"] == "help@brand.test"


def test_webhook_with_rate_and_env_headers(
    tmp_path: Path, webhook_server: WebhookServer, message: MessageFactory
) -> None:
    config = settings(
        {
            "push": {
                "type": "webhook",
                "url": webhook_server.url("/push"),
                "medium": "push",
                "secret": "${PUSH_SECRET}",
                "headers": {"Authorization": "Bearer ${PUSH_TOKEN}"},
                "rate": "100/s",
            }
        }
    )
    env = {"PUSH_SECRET": "k", "PUSH_TOKEN": "t0k"}
    with build_channels(config, env, base_dir=tmp_path) as channels:
        push = channels["push"]
        assert isinstance(push, RateLimited)
        assert isinstance(push.inner, WebhookSender)
        assert push.bucket.interval == pytest.approx(0.01)
        assert (push.name, push.medium) == ("push", "push")
        push.deliver(message(channel="push"))
    [request] = webhook_server.requests
    assert request.path == "/push"
    assert request.headers["Authorization"] == "Bearer t0k"
