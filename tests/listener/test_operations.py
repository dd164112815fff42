"""POST /v1/feedback (bounces, complaints), GET /metrics, and an access log without tokens
or secrets."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx

from tests.listener.conftest import API_TOKEN, SECRET, Server
from tests.listener.helpers import events, run, sent
from tests.listener.project import delivered

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def test_feedback_records_bounces_and_complaints(
    tmp_path: Path, db_url: str, serve: type[Server]
) -> None:
    project, db, now = delivered(tmp_path, db=db_url, ids=("c1", "c2", "c3"))
    keys = {c: k for c, _, k in sent(db)}
    server = serve(project, db, "--no-tick")
    url = server.url + "/v1/feedback"
    with httpx.Client(timeout=30) as http:
        assert http.post(url, json=[]).status_code == 401
        bad = [
            {"type": "bounce"},
            {"type": "bounced", "email": "c1@example.com"},
            {"type": "complaint", "email": "c1@example.com", "at": "soon", "colour": "red"},
            {"type": "bounce", "message_id": "<not-ours@example.com>"},
        ]
        r = http.post(url, json=bad, headers=AUTH)
        assert r.status_code == 422
        assert {(e["index"], e["field"]) for e in r.json()["errors"]} == {
            (0, None), (1, "type"), (2, "at"), (2, "colour"), (3, "message_id"),
        }  # fmt: skip
        r = http.post(
            url, json=[{"type": "complaint", "email": "nobody@example.com"}], headers=AUTH
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "email"
        good = [
            # the Message-ID journeyctl sent, as a provider's bounce names it
            {
                "type": "bounce",
                "message_id": f"<{keys['c1']}@example.com>",
                "reason": "550 5.1.1 unknown",
            },
            {"type": "complaint", "email": "C2@example.com"},
            {"type": "bounce", "contact_id": "c3", "permanent": False},
        ]
        r = http.post(url, json=good, headers=AUTH)
        assert r.json() == {"imported": 3, "new": 3}
        assert http.post(url, json=good[:1], headers=AUTH).json()["new"] == 0  # a repeat
    assert server.stop() == 0
    assert [(c, e) for c, e, _ in events(db) if e not in ("subscribed",)] == [
        ("c1", "bounced"), ("c2", "complained"), ("c3", "soft_bounced"),
    ]  # fmt: skip
    assert ["message_id", keys["c1"]] in events(db, "bounced")[0][2]
    # The next day: the hard bounce and the complaint suppress, the soft bounce does not.
    run(project, db, now + timedelta(days=1, hours=1))
    assert sorted((c, s) for c, s, _ in sent(db)) == [
        ("c1", "hello"), ("c2", "hello"), ("c3", "followup"), ("c3", "hello"),
    ]  # fmt: skip


def test_metrics_and_an_access_log_without_tokens(
    tmp_path: Path, db_url: str, serve: type[Server]
) -> None:
    project, db, _ = delivered(tmp_path, db=db_url, track=True)

    mail = json.loads(
        (project / "outbox" / "email.jsonl").read_text(encoding="utf-8").splitlines()[0]
    )
    token = mail["unsubscribe_url"].rpartition("/")[2]
    server = serve(project, db, "--no-tick")
    with httpx.Client(timeout=30) as http:
        http.get(server.local(mail["unsubscribe_url"]))
        http.post(server.local(mail["unsubscribe_url"]), content=b"List-Unsubscribe=One-Click")
        http.get(server.url + "/u/forged.token")
        http.post(server.url + "/v1/events", json=[], headers=AUTH)
        text = http.get(server.url + "/metrics").text
    assert server.stop() == 0
    assert 'journeyctl_listener_requests_total{endpoint="/u/{token}",status="200"} 2.0' in text
    assert 'journeyctl_listener_requests_total{endpoint="/u/{token}",status="404"} 1.0' in text
    assert 'journeyctl_listener_events_total{event="unsubscribed"} 1.0' in text
    assert "journeyctl_ticks_total 1.0" in text
    assert "journeyctl_delivered_total 2.0" in text
    for name in ("journeyctl_retrying", "journeyctl_due_backlog", "journeyctl_delivery_lag_seconds",
                 "journeyctl_last_tick_age_seconds", "journeyctl_failed_total"):  # fmt: skip
        assert f"\n{name} " in text, name
    log = server.log
    assert '"POST /u/{token}" 200' in log and '"GET /u/{token}" 404' in log
    for secret in (token, token.split(".")[0], "forged.token", API_TOKEN, SECRET):
        assert secret not in log
