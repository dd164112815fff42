"""`${NAME}` for any scalar of a channel's settings, numbers and booleans too (SPEC §2).

validate checks the shape without reading the environment; `run` reads the variable when it
builds the channel, types it as the setting says, and an unset or ill-typed value keeps the
message (retried) and exits 1, naming the setting and the variable.
"""

from __future__ import annotations

import email
import email.policy
import sqlite3
import textwrap
from pathlib import Path

import pytest
from channel_servers import SmtpServer, free_port
from typer.testing import CliRunner

from journeyctl.channels.base import EnvValueError, UnsetVariableError
from journeyctl.channels.rate import RateLimited
from journeyctl.channels.registry import build_channels
from journeyctl.channels.smtp import SmtpSender
from journeyctl.channels.webhook import WebhookSender
from journeyctl.cli import _register, app
from journeyctl.spec.envref import EnvRef
from journeyctl.spec.models import ProjectSettings
from journeyctl.spec.models import SmtpChannel as SmtpConfig

_register()
runner = CliRunner()

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: "${UNSUB_SECRET}"
channels:
  email:
    type: smtp
    host: "${SMTP_HOST}"
    port: "${SMTP_PORT}"
    starttls: "${SMTP_STARTTLS}"
    timeout: "${SMTP_TIMEOUT}"
    username: "${SMTP_USER}"
    password: "${SMTP_PASSWORD}"
    from: "Shop <hello@shop.test>"
  log: {type: file, path: outbox/, medium: sms, rate: "${LOG_RATE}/s"}
"""

RECEIPT = """
sequence: receipt
trigger: {event: purchased}
ad: false
transactional: true
steps:
  - send: mail
    channel: email
    subject: "Receipt for {{ contact.name }}"
    body: "Thank you."
  - send: note
    channel: log
    body: "receipt mailed"
"""

NOW = "2026-11-02T10:05:00+09:00"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    files = {
        "p/journey.yaml": JOURNEY,
        "p/receipt.yaml": RECEIPT,
        "contacts.csv": "id,email,phone,name\nc1,c1@example.com,+821000000000,Kim\n",
        "events.csv": "contact_id,event,at\nc1,purchased,2026-11-02T10:00:00+09:00\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return tmp_path


def environment(port: int, **changes: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "UNSUB_SECRET": "k",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_STARTTLS": "false",
        "SMTP_TIMEOUT": "5",
        "SMTP_USER": "mailer",
        "SMTP_PASSWORD": "s3cret",
        "LOG_RATE": "100",
        "NO_COLOR": "1",
    }
    env.update(changes)
    return env


def run(root: Path, env: dict[str, str | None], now: str = NOW) -> tuple[int, str]:
    r = runner.invoke(
        app,
        [
            "run", str(root / "p"), "--db", str(root / "j.db"),
            "--contacts", str(root / "contacts.csv"), "--events", str(root / "events.csv"),
            "--now", now,
        ],
        env=env,
    )  # fmt: skip
    return r.exit_code, r.stderr


def ledger(root: Path) -> dict[str, str]:
    conn = sqlite3.connect(root / "j.db")
    try:
        rows = conn.execute("SELECT step, state FROM ledger").fetchall()
    finally:
        conn.close()
    return dict(rows)


def test_validate_accepts_references_for_numbers_and_booleans(project: Path) -> None:
    # No SMTP_PORT or any other variable in the environment: validate reads none of them.
    r = runner.invoke(
        app, ["validate", str(project / "p"), "--strict"], env=environment(0, SMTP_PORT=None)
    )
    assert r.exit_code == 0, r.stderr
    assert r.stderr.endswith("0 error(s), 0 warning(s)\n")


def test_the_reference_stays_a_reference_until_the_channel_is_built() -> None:
    settings = ProjectSettings.model_validate(
        {
            "channels": {
                "email": {
                    "type": "smtp", "host": "h", "from": "a@b.test", "port": "${SMTP_PORT}",
                    "starttls": "${TLS}", "ssl": "${SSL}", "timeout": "${TIMEOUT}",
                },
                "push": {
                    "type": "webhook", "url": "https://x.test", "timeout": "${HOOK_TIMEOUT}",
                    "rate": "${PER}/m",
                },
            }
        }
    )  # fmt: skip
    smtp = settings.channels["email"]
    assert isinstance(smtp, SmtpConfig)
    assert smtp.port == "${SMTP_PORT}" and isinstance(smtp.port, EnvRef)
    assert smtp.port.variables == ("SMTP_PORT",)
    env = {
        "SMTP_PORT": " 2525\n", "TLS": "true", "SSL": "False", "TIMEOUT": "2.5",
        "HOOK_TIMEOUT": "3", "PER": "120",
    }  # fmt: skip
    with build_channels(settings, env, base_dir=Path(".")) as channels:
        email_channel, push = channels["email"], channels["push"]
        assert isinstance(email_channel, SmtpSender)
        assert email_channel.port == 2525 and email_channel.timeout == 2.5
        assert email_channel.starttls is True and email_channel.ssl is False
        assert isinstance(push, RateLimited) and isinstance(push.inner, WebhookSender)
        assert push.inner.timeout == 3.0 and isinstance(push.inner.timeout, float)
        assert push.bucket.interval == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("setting", "variable", "value", "expected"),
    [
        ("port", "SMTP_PORT", "abc", "a whole number (e.g. 587)"),
        ("port", "SMTP_PORT", "", "a whole number (e.g. 587)"),
        ("port", "SMTP_PORT", "2.5", "a whole number (e.g. 587)"),
        ("starttls", "TLS", "yes", "true or false"),
        ("timeout", "TIMEOUT", "soon", "a number (e.g. 30 or 2.5)"),
    ],
)
def test_an_ill_typed_value_names_the_setting_and_the_variable(
    setting: str, variable: str, value: str, expected: str
) -> None:
    settings = ProjectSettings.model_validate(
        {"channels": {"email": {"type": "smtp", "host": "h", "from": "a@b.test",
                                setting: f"${{{variable}}}"}}}
    )  # fmt: skip
    channels = build_channels(settings, {variable: value}, base_dir=Path("."))
    with pytest.raises(EnvValueError) as caught:
        channels["email"]
    assert str(caught.value) == (
        f"channel 'email': field.{setting} uses ${{{variable}}}, "
        f"but {variable}={value!r} is not {expected}"
    )
    assert caught.value.variable == variable
    with pytest.raises(UnsetVariableError, match=rf"field\.{setting} uses \$\{{{variable}\}}"):
        build_channels(settings, {}, base_dir=Path("."))["email"]


def test_run_reads_the_port_from_the_environment(project: Path, smtp_server: SmtpServer) -> None:
    code, err = run(project, environment(smtp_server.port))
    assert (code, err) == (0, "")
    [got] = smtp_server.received
    assert got.rcpt_tos == ["c1@example.com"]
    parsed = email.message_from_bytes(got.content, policy=email.policy.default)
    assert parsed["Subject"] == "Receipt for Kim"
    assert ledger(project) == {"mail": "sent", "note": "sent"}


def test_an_unset_port_keeps_the_message_and_exits_1(
    project: Path, smtp_server: SmtpServer
) -> None:
    code, err = run(project, environment(smtp_server.port, SMTP_PORT=None))
    assert code == 1
    assert (
        "channel 'email': field.port uses ${SMTP_PORT}, but the environment variable "
        "SMTP_PORT is not set; export it before running"
    ) in err
    assert smtp_server.received == []
    # The mail is kept for a later run; the other channel delivered meanwhile.
    assert ledger(project) == {"mail": "retry", "note": "sent"}
    code, err = run(project, environment(smtp_server.port), now="2026-11-02T12:00:00+09:00")
    assert (code, err) == (0, "")
    assert len(smtp_server.received) == 1
    assert ledger(project) == {"mail": "sent", "note": "sent"}


def test_an_ill_typed_port_is_a_clear_error_and_exits_1(project: Path) -> None:
    env = environment(free_port(), SMTP_PORT="abc")
    code, err = run(project, env)
    assert code == 1
    assert (
        "channel 'email': field.port uses ${SMTP_PORT}, but SMTP_PORT='abc' is not a whole "
        "number (e.g. 587)"
    ) in err
    assert "s3cret" not in err  # the other settings' values are never printed
    assert ledger(project) == {"mail": "retry", "note": "sent"}
