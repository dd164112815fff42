"""POST /v1/events and /v1/contacts: the import formats over HTTP, Bearer-authenticated,
all-or-nothing per request with located errors, idempotent by the natural key, and acted on
by the next tick exactly as `simulate` predicts."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.db import query
from tests.listener.conftest import API_TOKEN, ROOT, Server, base_env
from tests.listener.helpers import events, journeyctl, run
from tests.listener.project import with_contacts

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def _listening(
    tmp_path: Path, serve: type[Server], ids: tuple[str, ...] = ("c1", "c2"), db: str = ""
) -> tuple[Path, str, Server]:
    project, db = with_contacts(tmp_path, ids, db=db or None)
    return project, db, serve(project, db, "--no-tick")


def test_auth_size_and_located_errors(tmp_path: Path, db_url: str, serve: type[Server]) -> None:
    _, db, server = _listening(tmp_path, serve, db=db_url)
    url = server.url + "/v1/events"
    good = {"contact_id": "c1", "event": "visited", "at": "2026-11-02T10:00:00+09:00"}
    with httpx.Client(timeout=30) as http:
        assert http.post(url, json=[good]).status_code == 401
        assert (
            http.post(url, json=[good], headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        assert http.post(url, json=[good], headers={"Authorization": API_TOKEN}).status_code == 401
        big = b"[" + b" " * 1_000_001 + b"]"
        assert http.post(url, content=big, headers=AUTH).status_code == 413
        # Bad items: every problem located, nothing imported, the good item neither.
        bad = [
            good,
            {"contact_id": "", "event": "visited", "at": "2026-11-02T10:00:00"},
            {"contact_id": "c2", "event": "no spaces", "at": "yesterday"},
            {"contact_id": "c2", "event": "visited", "at": "2026-11-02T10:00:00", "p": [1]},
            "not an object",
        ]
        r = http.post(url, json=bad, headers=AUTH)
        assert r.status_code == 422
        errors = {(e["index"], e["field"]) for e in r.json()["errors"]}
        assert errors == {(1, "contact_id"), (2, "event"), (2, "at"), (3, "p"), (4, None)}
        assert all(e["reason"] for e in r.json()["errors"])
        # An unknown contact: located too, nothing imported.
        r = http.post(url, json=[good, {**good, "contact_id": "ghost"}], headers=AUTH)
        assert r.status_code == 422
        assert [(e["index"], e["field"], e["code"]) for e in r.json()["errors"]] == [
            (1, "contact_id", "unknown-contact")
        ]
        assert events(db, "visited") == []
        # JSON Lines, then the same again as an array: imported once.
        jsonl = "\n".join(json.dumps({**good, "contact_id": c}) for c in ("c1", "c2")) + "\n"
        r = http.post(url, content=jsonl.encode(), headers=AUTH)
        assert r.json() == {"imported": 2, "new": 2, "already_seen": 0}
        r = http.post(url, json=[{**good, "contact_id": c} for c in ("c1", "c2")], headers=AUTH)
        assert r.json() == {"imported": 2, "new": 0, "already_seen": 2}
        # Contacts: typed by journey.yaml like the CSV import; located errors the same way.
        curl = server.url + "/v1/contacts"
        r = http.post(
            curl,
            json=[{"id": "c3", "email": "c3@example.com", "consent_email": True}],
            headers=AUTH,
        )
        assert r.json() == {"imported": 1, "new": 1, "already_seen": 0}
        r = http.post(
            curl,
            json=[{"id": "c4", "email": "not-an-email", "consent_email": "maybe"}],
            headers=AUTH,
        )
        assert r.status_code == 422
        assert {(e["index"], e["field"]) for e in r.json()["errors"]} == {
            (0, "email"),
            (0, "consent_email"),
        }
    assert server.stop() == 0
    assert [c for c, _, _ in events(db, "visited")] == ["c1", "c2"]
    assert query(db, "SELECT id FROM contacts ORDER BY id") == [("c1",), ("c2",), ("c3",)]


def test_a_posted_cart_abandoned_reminds_when_simulate_says(
    tmp_path: Path, db_url: str, serve: type[Server]
) -> None:
    project, db, server = _listening(tmp_path, serve, db=db_url)
    at = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    event = {"contact_id": "c1", "event": "cart_abandoned", "at": at.isoformat()}
    with httpx.Client(timeout=30) as http:
        assert http.post(server.url + "/v1/events", json=[event], headers=AUTH).status_code == 200
    assert server.stop() == 0
    run(project, db, at + timedelta(hours=1, minutes=1))
    status = json.loads(journeyctl("status", "--db", db, "--format", "json").stdout)
    assert {"sequence": "cart", "outcome": "completed", "contacts": 1} in status["ended"]
    story = journeyctl("explain", project, "c1", "--db", db).stdout
    assert "event: cart_abandoned" in story and "sent: reminder via email" in story
    out = journeyctl("messages", "--db", db, "--format", "json")
    delivered = [
        (m["contact_id"], m["step"], datetime.fromisoformat(m["at"]))
        for m in json.loads(out.stdout)
    ]
    # simulate, given the same contacts and the same event as a file
    (project / "cart.csv").write_text(
        f"contact_id,event,at\nc1,cart_abandoned,{at.isoformat()}\n", encoding="utf-8"
    )
    sim = journeyctl(
        "simulate", project, "--contacts", project / "contacts.csv", "--events", project / "cart.csv",
        "--start", (at - timedelta(minutes=1)).isoformat(), "--days", "1", "--sequence", "cart", "--format", "json",
    )  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    predicted = [
        (m["contact_id"], m["step"], datetime.fromisoformat(m["at"]))
        for m in json.loads(sim.stdout)["messages"]
        if m["status"] == "sent"
    ]
    assert predicted == [("c1", "reminder", at + timedelta(hours=1))]
    assert delivered == predicted


def test_four_clients_while_ticks_run_lose_and_duplicate_nothing(
    tmp_path: Path, db_url: str, serve: type[Server]
) -> None:
    ids = tuple(f"c{i}" for i in range(40))
    project, db, server = _listening(tmp_path, serve, ids, db=db_url)
    start = datetime.now(UTC) - timedelta(minutes=30)
    per_client, batch = 2000, 100
    failures: list[str] = []

    def client(n: int) -> None:
        with httpx.Client(timeout=60) as http:
            for b in range(per_client // batch):
                items = [
                    {"contact_id": ids[(n * 7 + i) % len(ids)], "event": "cart_abandoned",
                     "at": (start + timedelta(seconds=b)).isoformat(), "ref": f"{n}-{b}-{i}"}
                    for i in range(batch)
                ]  # fmt: skip
                r = http.post(server.url + "/v1/events", json=items, headers=AUTH)
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text[:200]}")
                if b == 3:  # a client retrying a batch (its answer was lost): no duplicate
                    http.post(server.url + "/v1/events", json=items, headers=AUTH)

    stop = threading.Event()
    ticks: list[int] = []

    def cron() -> None:  # `run` from cron, back to back, on the same database
        while not stop.is_set():
            out = subprocess.run(
                [sys.executable, "-m", "journeyctl", "run", str(project), "--db", str(db)],
                cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            ticks.append(out.returncode)
            if out.returncode != 0:
                failures.append(out.stderr)

    ticker = threading.Thread(target=cron)
    ticker.start()
    clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    stop.set()
    ticker.join()
    assert server.stop() == 0, server.log
    assert failures == []
    assert ticks and set(ticks) == {0}
    refs = [dict(props)["ref"] for _, _, props in events(db, "cart_abandoned")]
    assert len(refs) == 4 * per_client  # 0 lost
    assert len(set(refs)) == len(refs)  # 0 duplicated
    # and the ticks acted on them: every contact entered the cart sequence
    entered = query(
        db, "SELECT count(DISTINCT contact_id) FROM enrollments WHERE sequence = 'cart'"
    )[0][0]
    assert entered > 0
