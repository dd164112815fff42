"""`run` signs unsubscribe tokens with `unsubscribe_secret` from the environment (SPEC §2, §5)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.engine.render import unsubscribe_token
from tests.builders import build_tree

_register()
runner = CliRunner()

SEQUENCE = """
sequence: welcome
trigger: {event: subscribed}
steps:
  - send: hello
    channel: email
    subject: "Hi {{ contact.name }}"
    body: "leave: {{ unsubscribe_url }}"
"""


def project(tmp_path: Path, channel_secret: str = "") -> Path:
    extra = f', unsubscribe_secret: "{channel_secret}"' if channel_secret else ""
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": f"""
                timezone: Asia/Seoul
                unsubscribe_url: "https://shop.test/u/{{{{ token }}}}"
                unsubscribe_secret: "${{UNSUB_SECRET}}"
                channels:
                  email: {{type: file, path: outbox/, medium: email{extra}}}
                """,
            "p/welcome.yaml": SEQUENCE,
            "contacts.csv": "id,email,name\nc1,c1@example.com,Kim\n",
            "events.csv": "contact_id,event,at\nc1,subscribed,2026-11-02T10:00:00+09:00\n",
        },
    )
    return tmp_path


def run(root: Path, env: dict[str, str | None]) -> tuple[int, str]:
    r = runner.invoke(
        app,
        [
            "run", str(root / "p"), "--db", str(root / "j.db"),
            "--contacts", str(root / "contacts.csv"), "--events", str(root / "events.csv"),
            "--now", "2026-11-02T10:05:00+09:00",
        ],
        env=env,
    )  # fmt: skip
    return r.exit_code, r.stderr


def sent(root: Path) -> list[dict[str, object]]:
    lines = (root / "p" / "outbox" / "email.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_tokens_are_the_hmac_with_the_secret_from_the_environment(tmp_path: Path) -> None:
    root = project(tmp_path)
    code, err = run(root, {"UNSUB_SECRET": "s3cret-from-env"})
    assert (code, err) == (0, "")
    [msg] = sent(root)
    url = f"https://shop.test/u/{unsubscribe_token(b's3cret-from-env', 'c1')}"
    assert msg["unsubscribe_url"] == url
    assert msg["text"] == f"leave: {url}"
    assert unsubscribe_token(b"", "c1") not in str(msg)  # never the unkeyed token


def test_an_smtp_channel_secret_overrides_the_project_secret(tmp_path: Path) -> None:
    from journeyctl.engine.model import Contact
    from journeyctl.simulate import make_engine
    from journeyctl.spec.loader import load_project

    build_tree(
        tmp_path,
        {
            "journey.yaml": """
                timezone: Asia/Seoul
                unsubscribe_secret: "${UNSUB_SECRET}"
                channels:
                  mail: {type: smtp, host: mx.test, from: "Shop <a@shop.test>",
                         unsubscribe_secret: "${MAIL_UNSUB}"}
                  file: {type: file, path: outbox/, medium: email}
                """,
            "welcome.yaml": SEQUENCE,
        },
    )
    project = load_project(tmp_path)
    renderer = make_engine(project, env={"UNSUB_SECRET": "p", "MAIL_UNSUB": "m"}).renderer
    assert renderer is not None
    c = Contact("c1", "c1@example.com")
    assert renderer.unsubscribe_url("mail", c).endswith(unsubscribe_token(b"m", "c1"))
    assert renderer.unsubscribe_url("file", c).endswith(unsubscribe_token(b"p", "c1"))


def test_an_unset_secret_stops_the_run_before_anything_is_claimed(tmp_path: Path) -> None:
    root = project(tmp_path)
    code, err = run(root, {"UNSUB_SECRET": None})
    assert code == 2
    assert "UNSUB_SECRET" in err and "unsubscribe_secret" in err
    assert not (root / "p" / "outbox" / "email.jsonl").exists()
    if (root / "j.db").exists():
        conn = sqlite3.connect(root / "j.db")
        try:
            assert conn.execute("SELECT count(*) FROM ledger").fetchone()[0] == 0
        finally:
            conn.close()
