"""`journeyctl send-test` as a user runs it (typer's CliRunner), through real channels: an
aiosmtpd server and a webhook server on 127.0.0.1, and the file outbox. The test send is marked
as a test on each, renders the contact's data, and leaves no trace in any database."""

from __future__ import annotations

import email
import json
from email.message import Message as EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from channel_servers import SmtpServer, WebhookServer
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.engine.render import unsubscribe_token
from journeyctl.run.send_test import TEST_CONTACT_ID
from tests.builders import build_tree

_register()
runner = CliRunner()
SECRET = "test-only-unsubscribe-secret"

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret
unsubscribe_url: "https://shop.example.com/u/{{{{ token }}}}"
contacts:
  fields: {{cart_total: int}}
channels:
  email: {{type: smtp, host: 127.0.0.1, port: {port}, from: "Shop <shop@example.com>",
          username: mailer, password: s3cret}}
  sms: {{type: webhook, url: "{hook}", medium: sms}}
  outbox: {{type: file, path: outbox/, medium: email}}
"""

CART = """
sequence: cart
trigger: {event: cart_abandoned}
ad: true
steps:
  - send: nudge
    channel: email
    subject: "(광고) {{ contact.name }}님, 장바구니 {{ contact.cart_total }}원"
    body: "담아두신 상품이 기다려요. 수신거부: {{ unsubscribe_url }}"
  - send: sms-nudge
    channel: sms
    body: "(광고) {{ contact.name }}님 쿠폰"
  - send: filed
    channel: outbox
    subject: "Filed for {{ contact.name }}"
    body: "hello"
"""

CONTACTS = "id,email,phone,name,cart_total\nc7,real@example.com,01011112222,이서연,45000\n"


@pytest.fixture
def proj(tmp_path: Path, smtp_server: SmtpServer, webhook_server: WebhookServer) -> Path:
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": JOURNEY.format(port=smtp_server.port, hook=webhook_server.url()),
            "p/cart.yaml": CART,
            "contacts.csv": CONTACTS,
        },
    )
    return tmp_path


def send(proj: Path, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["send-test", str(proj / "p"), *args])
    return r.exit_code, r.stdout, r.stderr


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=default_policy)


def test_an_email_test_goes_through_smtp_marked_and_rendered_for_the_contact(
    proj: Path, smtp_server: SmtpServer
) -> None:
    code, out, err = send(proj, "cart", "nudge", "--to", "me@example.com",
                          "--contact", "c7", "--contacts", str(proj / "contacts.csv"))  # fmt: skip
    assert (code, err) == (0, "")
    assert out.startswith("test sent: cart/nudge via email to me@example.com")
    assert "nothing recorded" in out
    [got] = smtp_server.received
    assert got.rcpt_tos == ["me@example.com"]  # the tester, never the contact
    mail = parsed(got.content)
    assert mail["Subject"] == "[TEST] (광고) 이서연님, 장바구니 45000원"  # the contact's data
    assert mail["X-Journeyctl-Test"] == "yes"
    assert mail["To"] == "me@example.com"
    # The unsubscribe link (body and List-Unsubscribe) is signed for no real contact.
    stand_in = unsubscribe_token(SECRET.encode(), TEST_CONTACT_ID)
    real = unsubscribe_token(SECRET.encode(), "c7")
    assert stand_in in mail["List-Unsubscribe"] and real not in mail["List-Unsubscribe"]
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert stand_in in text and real not in text
    # Nothing recorded: no database appeared, next to the project or in the working directory.
    assert not list(proj.rglob("*.db")) and not Path("journey.db").exists()


def test_a_sample_contact_when_none_is_named(proj: Path, smtp_server: SmtpServer) -> None:
    code, _, err = send(proj, "cart", "nudge", "--to", "me@example.com")
    assert (code, err) == (0, "")
    mail = parsed(smtp_server.received[0].content)
    assert mail["Subject"] == "[TEST] (광고) 김민지님, 장바구니 3원"


def test_a_bounce_of_the_test_address_fails_the_command_and_suppresses_no_one(
    proj: Path, smtp_server: SmtpServer
) -> None:
    smtp_server.behaviour.rcpt_replies["me@example.com"] = "550 5.1.1 no such user"
    code, out, err = send(proj, "cart", "nudge", "--to", "me@example.com",
                          "--contact", "c7", "--contacts", str(proj / "contacts.csv"))  # fmt: skip
    assert code == 1 and out == ""
    assert "did not take the test" in err and "550" in err
    assert not list(proj.rglob("*.db"))


def test_a_db_is_read_for_the_contact_and_left_unchanged(
    proj: Path, smtp_server: SmtpServer
) -> None:
    db = proj / "j.db"
    r = runner.invoke(app, ["contacts", "import", str(proj / "p"), str(proj / "contacts.csv"),
                            "--db", str(db)])  # fmt: skip
    assert r.exit_code == 0, r.stderr
    before = db.read_bytes()
    code, _, err = send(proj, "cart", "nudge", "--to", "me@example.com", "--contact", "c7",
                        "--db", str(db))  # fmt: skip
    assert (code, err) == (0, "")
    assert parsed(smtp_server.received[0].content)["Subject"].endswith("장바구니 45000원")
    assert db.read_bytes() == before
    status = runner.invoke(app, ["status", "--db", str(db), "--format", "json"])
    assert json.loads(status.stdout)["deliveries"] == {}


def test_an_sms_test_goes_to_the_webhook_marked(proj: Path, webhook_server: WebhookServer) -> None:
    code, _, err = send(proj, "cart", "sms-nudge", "--to", "01099998888",
                        "--contact", "c7", "--contacts", str(proj / "contacts.csv"))  # fmt: skip
    assert (code, err) == (0, "")
    [req] = webhook_server.requests
    assert req.headers["X-Journeyctl-Test"] == "yes"
    assert req.headers["Idempotency-Key"].startswith("test-")
    doc = json.loads(req.body)
    assert doc["to"] == "01099998888" and doc["enrollment_id"] == "test"
    assert doc["text"] == "[TEST] (광고) 이서연님 쿠폰"  # no subject: the text says it


def test_the_file_outbox_gets_a_test_line_each_time(proj: Path) -> None:
    for _ in range(2):
        code, out, err = send(proj, "cart", "filed", "--to", "me@example.com", "--format", "json")
        assert (code, err) == (0, "")
        assert json.loads(out)["test"] is True
    lines = [json.loads(x) for x in (proj / "p/outbox/outbox.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and lines[0]["key"] != lines[1]["key"]  # not deduplicated away
    assert all(x["key"].startswith("test-") and x["subject"] == "[TEST] Filed for 김민지"
               for x in lines)  # fmt: skip


def test_usage_errors_exit_2(proj: Path) -> None:
    assert send(proj, "cart", "nope", "--to", "me@example.com")[0] == 2
    code, _, err = send(proj, "cart", "nudge", "--to", "01099998888")
    assert code == 2 and "not an email address" in err
    code, _, err = send(proj, "cart", "nudge", "--to", "me@example.com", "--contact", "c7")
    assert code == 2 and "--contacts FILE or --db FILE" in err


@pytest.mark.parametrize(
    "to", ["me@example.com\r\nBcc: everyone@example.com", "me @example.com", "me@", "a@b@c"]
)
def test_a_to_that_is_no_single_address_is_refused_before_any_channel(
    proj: Path, smtp_server: SmtpServer, to: str
) -> None:
    """Over the file outbox `a@b\\r\\nBcc: ...` used to be written as the address, and over
    SMTP it reached the channel's header guard; refused at the door, as contacts' emails are."""
    for step in ("nudge", "filed"):
        code, out, err = send(proj, "cart", step, "--to", to)
        assert code == 2 and out == "" and "is not an email address" in err, (step, err)
    assert not smtp_server.received
    assert not (proj / "p/outbox").exists()


def test_an_sms_to_with_a_line_break_is_refused(proj: Path, webhook_server: WebhookServer) -> None:
    code, _, err = send(proj, "cart", "sms-nudge", "--to", "010\n99998888")
    assert code == 2 and "control characters" in err
    assert not webhook_server.requests


def test_outside_the_project_the_error_says_to_give_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DIR defaults to `.`: run from elsewhere, preview and send-test said `known: none`."""
    monkeypatch.chdir(tmp_path)
    for args in (["preview", "cart", "nudge"], ["send-test", "cart", "nudge", "--to", "a@b.c"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, r.stderr
        assert "holds no sequence files; give the project directory first" in r.stderr, r.stderr
