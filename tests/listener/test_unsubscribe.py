"""One-click unsubscribe end to end (RFC 8058): `run` delivers over real SMTP, the URL comes
from the delivered mail's List-Unsubscribe header, a real uvicorn takes the POST, and the
next `run` sends that contact no further marketing."""

from __future__ import annotations

import base64
import email
import json
import re
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path

import httpx

from tests.channels.channel_servers import SmtpServer
from tests.listener.conftest import API_TOKEN, PUBLIC, Server
from tests.listener.helpers import events, journeyctl, run, sent
from tests.listener.project import delivered, smtp_channel

ONE_CLICK = {"content": b"List-Unsubscribe=One-Click"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _mails(smtp: SmtpServer) -> dict[str, list[Message]]:
    out: dict[str, list[Message]] = {}
    for got in smtp.received:
        out.setdefault(got.rcpt_tos[0], []).append(email.message_from_bytes(got.content))
    return out


def _link(mail: Message) -> str:
    header = str(mail["List-Unsubscribe"])
    m = re.fullmatch(r"<(https://[^>]+)>", header.strip())
    assert m, header
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return m.group(1)


def _forgeries(link: str, other: str) -> list[str]:
    """Tokens that must be refused: truncated, a flipped MAC, another contact's payload with
    this MAC, this payload re-signed with a wrong key, an open token used to unsubscribe."""
    base, _, token = link.rpartition("/")
    payload, mac = token.split(".")
    other_payload = other.rpartition("/")[2].split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "==")
    as_open = base64.urlsafe_b64encode(b"o" + raw[1:]).rstrip(b"=").decode()
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    return [
        f"{base}/{token[:-1]}",
        f"{base}/{payload}",
        f"{base}/{payload}.{flipped}",
        f"{base}/{other_payload}.{mac}",
        f"{base}/{as_open}.{mac}",
        f"{base}/{token}{token}",
    ]


def test_one_click_unsubscribe_end_to_end(
    tmp_path: Path, db_url: str, smtp: SmtpServer, serve: type[Server]
) -> None:
    project, db, now = delivered(tmp_path, smtp_channel(smtp.port), db=db_url)
    mails = _mails(smtp)
    assert sorted(mails) == ["c1@example.com", "c2@example.com"]
    link, other = _link(mails["c1@example.com"][0]), _link(mails["c2@example.com"][0])
    assert link.startswith(f"{PUBLIC}/u/")
    # the same link in the HTML part (the template's {{ unsubscribe_url }})
    html = next(p for p in mails["c1@example.com"][0].walk() if p.get_content_type() == "text/html")
    assert link in html.get_payload(decode=True).decode()

    server = serve(project, db, "--no-tick")
    with httpx.Client(timeout=30) as http:
        # A GET shows the page and changes nothing (link scanners prefetch).
        page = http.get(server.local(link))
        assert page.status_code == 200
        assert "수신거부" in page.text and "Unsubscribe" in page.text
        assert 'method="post"' in page.text
        assert events(db, "unsubscribed") == []
        # Forged, truncated, moved tokens: refused, nothing recorded.
        for bad in _forgeries(link, other):
            assert http.post(server.local(bad), headers=FORM, **ONE_CLICK).status_code == 404, bad
        assert events(db, "unsubscribed") == []
        # Without the RFC 8058 body: refused.
        assert http.post(server.local(link), headers=FORM, content=b"").status_code == 400
        assert http.post(server.local(link), headers=FORM, content=b"x" * 70_000).status_code == 413
        # The provider's POST: 200, no redirect; repeated: still one event.
        for _ in range(3):
            r = http.post(server.local(link), headers=FORM, **ONE_CLICK)
            assert r.status_code == 200
            assert not r.is_redirect
    assert server.stop() == 0
    c1_hello = next(k for c, step, k in sent(db) if c == "c1" and step == "hello")
    assert events(db, "unsubscribed") == [
        ("c1", "unsubscribed", [["channel", "email"], ["message_id", c1_hello]])
    ]
    # The next day's run: c2 gets the follow-up, c1 nothing more.
    run(project, db, now + timedelta(days=1, hours=1))
    mails = _mails(smtp)
    assert len(mails["c2@example.com"]) == 2
    assert len(mails["c1@example.com"]) == 1
    story = journeyctl("explain", project, "c1", "--db", db).stdout
    assert "event: unsubscribed" in story
    report = json.loads(journeyctl("report", "--db", db, "--format", "json").stdout)
    hello = next(s for s in report["steps"] if s["step"] == "hello")
    assert (hello["sent"], hello["unsubscribed"]) == (2, 1)
    assert [(c, s) for c, s, _ in sent(db)] == [
        ("c1", "hello"),
        ("c2", "hello"),
        ("c2", "followup"),
    ]


def test_a_browser_form_post_unsubscribes_too(
    tmp_path: Path, db_url: str, serve: type[Server]
) -> None:
    """The page's confirm button posts the form as a browser does (multipart works too)."""
    project, db, _ = delivered(tmp_path, db=db_url)
    lines = (project / "outbox" / "email.jsonl").read_text(encoding="utf-8").splitlines()
    link = json.loads(lines[0])["unsubscribe_url"]
    server = serve(project, db, "--no-tick")
    with httpx.Client(timeout=30) as http:
        r = http.post(server.local(link), files={"List-Unsubscribe": (None, "One-Click")})
        assert r.status_code == 200
        assert "수신거부가 처리되었습니다" in r.text
        # Subscribed again later, then the old mail's link once more: unsubscribed again.
        again = {"contact_id": json.loads(lines[0])["contact_id"], "event": "subscribed",
                 "at": datetime.now(UTC).isoformat()}  # fmt: skip
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        assert (
            http.post(server.url + "/v1/events", json=[again], headers=headers).status_code == 200
        )
        assert http.post(server.local(link), **ONE_CLICK, headers=FORM).status_code == 200
        assert http.post(server.local(link), **ONE_CLICK, headers=FORM).status_code == 200
    assert server.stop() == 0
    who = json.loads(lines[0])["contact_id"]
    assert [c for c, _, _ in events(db, "unsubscribed")] == [who, who]
