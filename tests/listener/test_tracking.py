"""Opens and clicks: `track: {opens: true, clicks: true}` rewrites HTML links to signed
redirects and adds a pixel; the listener records `opened`/`clicked` naming the message, so
`report` counts them for the exact step; a click never redirects anywhere but the link
its token signs."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.listener.conftest import PUBLIC, Server
from tests.listener.helpers import events, journeyctl, run, sent
from tests.listener.project import FILE_CHANNEL, delivered, write_data, write_project


def _outbox(project: Path) -> list[dict[str, str]]:
    lines = (project / "outbox" / "email.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _tricks(click: str) -> list[str]:
    """The click URL with its link swapped for another under the same MAC (open-redirect
    attempts), or otherwise mangled."""
    base, _, token = click.rpartition("/")
    payload, mac = token.split(".")
    fields = base64.urlsafe_b64decode(payload + "==").split(b"\x1f")
    out = []
    for evil in [
        b"https://evil.example.com/",
        b"//evil.example.com",
        b"https://shop.example.com@evil.example.com/",
        b"javascript:alert(1)",
        b"https:%2F%2Fevil.example.com",
        b"\\\\evil.example.com",
    ]:
        forged = base64.urlsafe_b64encode(b"\x1f".join([*fields[:4], evil])).rstrip(b"=")
        out.append(f"{base}/{forged.decode()}.{mac}")
    out += [f"{click}/..%2F..%2Fevil", click[:-4], f"{base}/{payload}"]
    return out


def test_opens_and_clicks_are_counted_for_their_step(
    tmp_path: Path, db_url: str, serve: type[Server]
) -> None:
    project, db, now = delivered(tmp_path, db=db_url, track=True)
    mail = next(m for m in _outbox(project) if m["contact_id"] == "c1")
    html = mail["html"]
    clicks = re.findall(r"""href=["'](https://mail\.example\.com/c/[^"']+)["']""", html)
    assert len(clicks) == 2
    assert 'href="mailto:help@example.com"' in html  # only http(s) links are tracked
    assert f'href="{mail["unsubscribe_url"]}"' in html  # the unsubscribe link stays itself
    assert "shop.example.com" not in html  # (the links are inside the tokens)
    pixel = re.search(r'<img src="(https://mail\.example\.com/o/[^"]+)"[^>]*></body>', html)
    assert pixel is not None

    server = serve(project, db, "--no-tick")
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        for _ in range(3):  # a client loading images again: one open
            r = http.get(server.local(pixel.group(1)))
            assert r.status_code == 200
            assert r.headers["content-type"] == "image/gif"
            assert "no-store" in r.headers["cache-control"]
            assert r.content.startswith(b"GIF89a")
        first = http.get(server.local(clicks[0]))
        assert first.status_code == 302
        assert first.headers["location"] == "https://shop.example.com/new?utm=a&b=1"
        assert http.get(server.local(clicks[0]) + "?next=//evil.example.com").headers[
            "location"
        ] == ("https://shop.example.com/new?utm=a&b=1")
        assert (
            http.get(server.local(clicks[1])).headers["location"] == "https://shop.example.com/sale"
        )
        for trick in _tricks(server.local(clicks[0])):
            r = http.get(trick)
            assert r.status_code == 404, trick
            assert "location" not in r.headers
        # an open token is no click token, a click token no unsubscribe token
        assert http.get(server.local(pixel.group(1)).replace("/o/", "/c/")).status_code == 404
        assert http.get(server.local(clicks[0]).replace("/c/", "/u/")).status_code == 404
    assert server.stop() == 0

    hello = next(k for c, s, k in sent(db) if c == "c1" and s == "hello")
    assert events(db, "opened") == [("c1", "opened", [["message_id", hello]])]
    assert events(db, "clicked") == [
        (
            "c1",
            "clicked",
            [["message_id", hello], ["url", "https://shop.example.com/new?utm=a&b=1"]],
        ),
        ("c1", "clicked", [["message_id", hello], ["url", "https://shop.example.com/sale"]]),
    ]
    report = json.loads(journeyctl("report", "--db", db, "--format", "json").stdout)
    (step,) = report["steps"]
    assert (step["step"], step["sent"], step["opened"], step["clicked"]) == ("hello", 2, 1, 1)
    assert report["unattributed_events"] == 0
    # the next tick takes them in: explain tells the contact's story with them
    run(project, db, now + timedelta(minutes=5))
    story = journeyctl("explain", project, "c1", "--db", db).stdout
    assert "event: opened" in story and "event: clicked" in story


def test_no_tracking_without_consent(tmp_path: Path) -> None:
    extra = "compliance: [eu]\n"
    channel = FILE_CHANNEL + ", track: {opens: true, clicks: true, consent: tracking_consent}"
    project = write_project(tmp_path / "p", channel, extra=extra)
    db = tmp_path / "state.db"
    now = datetime.now(UTC)
    contacts, evs = write_data(project, now)
    contacts.write_text(
        "id,email,name,consent_email,tracking_consent\n"
        "c1,c1@example.com,C1,true,true\nc2,c2@example.com,C2,true,false\n",
        encoding="utf-8",
    )
    assert journeyctl("validate", project).returncode == 0
    run(project, db, now, "--contacts", contacts, "--events", evs)
    by = {m["contact_id"]: m["html"] for m in _outbox(project)}
    assert f"{PUBLIC}/c/" in by["c1"] and f"{PUBLIC}/o/" in by["c1"]
    assert f"{PUBLIC}/c/" not in by["c2"] and f"{PUBLIC}/o/" not in by["c2"]
    assert "href='https://shop.example.com/sale'" in by["c2"]


def test_preview_shows_the_rewritten_links(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", track=True)
    contacts, _ = write_data(project, datetime.now(UTC))
    out = journeyctl(
        "preview", project, "welcome", "hello", "--contact", "c1", "--contacts", contacts
    )
    assert out.returncode == 0, out.stderr
    assert f"{PUBLIC}/c/" in out.stdout and f"{PUBLIC}/o/" in out.stdout
    assert f"{PUBLIC}/u/" in out.stdout
