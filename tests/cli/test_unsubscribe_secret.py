"""`run` signs unsubscribe tokens with `unsubscribe_secret` from the environment (SPEC §2, §5)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
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
    from journeyctl.engine.make import make_engine
    from journeyctl.engine.model import Contact
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


# --- no forgeable links (issue 13): no secret, no run -----------------------------------------


def bare_project(tmp_path: Path, secret_line: str = "", extra_sequence: str = "") -> Path:
    """`project` with the given `unsubscribe_secret` line (none by default)."""
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": f"""
                timezone: Asia/Seoul
                unsubscribe_url: "https://shop.test/u/{{{{ token }}}}"
                {secret_line}
                channels:
                  email: {{type: file, path: outbox/, medium: email}}
                """,
            "p/welcome.yaml": extra_sequence or SEQUENCE,
            "contacts.csv": "id,email,name\nc1,c1@example.com,Kim\n",
            "events.csv": "contact_id,event,at\nc1,subscribed,2026-11-02T10:00:00+09:00\n",
        },
    )
    return tmp_path


def nothing_happened(root: Path) -> None:
    assert not (root / "p" / "outbox" / "email.jsonl").exists()
    if (root / "j.db").exists():
        conn = sqlite3.connect(root / "j.db")
        try:
            assert conn.execute("SELECT count(*) FROM ledger").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == 0
        finally:
            conn.close()


def test_a_run_without_a_secret_refuses_to_start(tmp_path: Path) -> None:
    root = bare_project(tmp_path)
    code, err = run(root, {"UNSUBSCRIBE_SECRET": "set-but-not-referenced"})
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: refusing to send: ")
    assert "sequence 'welcome'" in err and "forge" in err
    assert 'unsubscribe_secret: "${UNSUBSCRIBE_SECRET}"' in err  # what to do
    assert "set UNSUBSCRIBE_SECRET" in err
    nothing_happened(root)


def test_an_empty_secret_in_the_environment_refuses_to_start(tmp_path: Path) -> None:
    root = project(tmp_path)
    code, err = run(root, {"UNSUB_SECRET": ""})
    assert code == 2
    assert err.count("\n") == 1
    assert "unsubscribe_secret is empty" in err and 'UNSUB_SECRET=""' in err
    assert "set UNSUB_SECRET to a long random value" in err
    nothing_happened(root)
    code, err = run(root, {"UNSUB_SECRET": "   "})  # blank is empty too
    assert code == 2, err


def test_an_empty_literal_or_channel_secret_refuses_to_start(tmp_path: Path) -> None:
    root = bare_project(tmp_path / "a", 'unsubscribe_secret: ""')
    code, err = run(root, {})
    assert code == 2 and "unsubscribe_secret is empty in journey.yaml" in err
    root = tmp_path / "b"
    build_tree(
        root,
        {
            "p/journey.yaml": """
                timezone: Asia/Seoul
                unsubscribe_secret: "${UNSUB_SECRET}"
                channels:
                  email: {type: smtp, host: mx.invalid, from: "Shop <a@shop.test>",
                          unsubscribe_secret: "${MAIL_UNSUB}"}
                """,
            "p/welcome.yaml": SEQUENCE,
            "contacts.csv": "id,email,name\nc1,c1@example.com,Kim\n",
            "events.csv": "contact_id,event,at\nc1,subscribed,2026-11-02T10:00:00+09:00\n",
        },
    )
    code, err = run(root, {"UNSUB_SECRET": "project-secret", "MAIL_UNSUB": ""})
    assert code == 2, err
    assert "channels.email.unsubscribe_secret is empty" in err and 'MAIL_UNSUB=""' in err
    nothing_happened(root)


def test_a_transactional_only_project_needs_no_secret(tmp_path: Path) -> None:
    receipt = SEQUENCE.replace("steps:", "ad: false\ntransactional: true\nsteps:").replace(
        'body: "leave: {{ unsubscribe_url }}"', 'body: "your order shipped"'
    )
    root = bare_project(tmp_path, extra_sequence=receipt)
    code, err = run(root, {})
    assert (code, err) == (0, "")
    [msg] = sent(root)
    assert msg["unsubscribe_url"] is None


def test_simulate_preview_explain_and_dry_run_work_without_a_secret(tmp_path: Path) -> None:
    root = bare_project(tmp_path)
    p, contacts, events = str(root / "p"), str(root / "contacts.csv"), str(root / "events.csv")
    window = ["--start", "2026-11-02", "--days", "2"]
    env = {"UNSUBSCRIBE_SECRET": None}
    for args in (
        ["simulate", p, "--contacts", contacts, "--events", events, *window],
        ["preview", p, "welcome", "hello", "--contacts", contacts, "--contact", "c1"],
        ["explain", p, "c1", "--contacts", contacts, "--events", events, *window],
    ):
        r = runner.invoke(app, args, env=env)
        assert r.exit_code == 0, (args[0], r.stderr)
    r = runner.invoke(
        app,
        [
            "run", p, "--db", str(root / "j.db"), "--contacts", contacts, "--events", events,
            "--now", "2026-11-02T10:05:00+09:00", "--dry-run", "--format", "json",
        ],
        env=env,
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert len(json.loads(r.stdout)["messages"]) == 1  # decided and rendered, nothing sent
    nothing_happened(root)


def test_serve_without_a_secret_refuses_to_start(tmp_path: Path) -> None:
    root = bare_project(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "UNSUBSCRIBE_SECRET"}
    proc = subprocess.run(
        [sys.executable, "-m", "journeyctl", "serve", str(root / "p"), "--db", str(root / "j.db")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "refusing to send" in proc.stderr and "unsubscribe_secret" in proc.stderr


def test_validate_warns_and_strict_fails_without_a_secret(tmp_path: Path) -> None:
    root = bare_project(tmp_path)
    env = {"NO_COLOR": "1", "COLUMNS": "200"}
    r = runner.invoke(app, ["validate", str(root / "p")], env=env)
    assert r.exit_code == 0, r.stderr
    journey = root / "p" / "journey.yaml"
    line = next(
        i for i, t in enumerate(journey.read_text().splitlines(), 1) if "unsubscribe_url" in t
    )
    assert f"journey.yaml:{line}:1: warning[no-unsubscribe-secret]: no unsubscribe_secret" in (
        r.stderr
    )
    assert "1 warning(s)" in r.stderr
    strict = runner.invoke(app, ["validate", str(root / "p"), "--strict"], env=env)
    assert strict.exit_code == 1
    # A reference is enough for validate (it never reads the environment); run checks it.
    ok = runner.invoke(app, ["validate", str(project(tmp_path / "ref") / "p"), "--strict"], env=env)
    assert ok.exit_code == 0, ok.stderr
