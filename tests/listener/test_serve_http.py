"""`serve --http`: starts on a real port, refuses to start without its secrets, stops cleanly
on SIGTERM with every accepted request committed, and runs beside the scheduler."""

from __future__ import annotations

import signal
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.listener.conftest import API_TOKEN, Server, base_env
from tests.listener.helpers import events, journeyctl, run
from tests.listener.project import with_contacts, write_project

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def test_healthz_names_the_last_tick(tmp_path: Path, serve: type[Server]) -> None:
    project = write_project(tmp_path / "p")
    db = tmp_path / "state.db"
    server = serve(project, db, "--no-tick")
    with httpx.Client(timeout=30) as http:
        first = http.get(server.url + "/healthz").json()
        assert first == {"ok": True, "db": "ok", "last_tick_age_seconds": None}
        run(project, db, datetime.now(UTC))  # cron beside the listener
        age = http.get(server.url + "/healthz").json()["last_tick_age_seconds"]
        assert age is not None and age >= 0
    assert server.stop() == 0


def test_serve_ticks_and_listens(tmp_path: Path, db_url: str, serve: type[Server]) -> None:
    """Both at once: the scheduler's first tick delivers what was due, and the listener takes
    events meanwhile (the next tick acts on them: test_events_api)."""
    project, db = with_contacts(tmp_path, db=db_url)
    evs = project / "events.csv"
    assert journeyctl("events", "import", evs, "--db", db, "--project", project).returncode == 0
    server = serve(project, db, "--every", "1m")
    with httpx.Client(timeout=30) as http:
        item = {"contact_id": "c1", "event": "visited", "at": datetime.now(UTC).isoformat()}
        assert http.post(server.url + "/v1/events", json=[item], headers=AUTH).status_code == 200
        deadline = time.monotonic() + 60
        while http.get(server.url + "/healthz").json()["last_tick_age_seconds"] is None:
            assert time.monotonic() < deadline, server.log
            time.sleep(0.2)
    assert server.stop() == 0
    assert "stopped" in server.log
    outbox = project / "outbox" / "email.jsonl"
    assert len(outbox.read_text(encoding="utf-8").splitlines()) == 2  # the first tick's sends
    assert [c for c, _, _ in events(db, "visited")] == ["c1"]


def test_refuses_to_start_without_its_secret(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p")
    env = base_env()
    del env["UNSUBSCRIBE_SECRET"]
    out = journeyctl(
        "serve", project, "--db", tmp_path / "db", "--http", "127.0.0.1:0", "--no-tick", env=env
    )
    assert out.returncode == 2
    assert "UNSUBSCRIBE_SECRET" in out.stderr
    assert "Traceback" not in out.stderr
    env["UNSUBSCRIBE_SECRET"] = ""
    out = journeyctl(
        "serve", project, "--db", tmp_path / "db", "--http", "127.0.0.1:0", "--no-tick", env=env
    )
    assert out.returncode == 2
    assert "UNSUBSCRIBE_SECRET" in out.stderr


def test_usage_errors(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p")
    out = journeyctl("serve", project, "--db", tmp_path / "db", "--no-tick")
    assert out.returncode == 2 and "--http" in out.stderr
    out = journeyctl("serve", project, "--db", tmp_path / "db", "--http", "nowhere", "--no-tick")
    assert out.returncode == 2 and "HOST:PORT" in out.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        out = journeyctl(
            "serve", project, "--db", tmp_path / "db", "--http", f"127.0.0.1:{port}", "--no-tick"
        )
    assert out.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in out.stderr
    # a database that cannot be opened: the line `run` gives, before anything is accepted
    bad_db = tmp_path / "missing" / "state.db"
    out = journeyctl("serve", project, "--db", bad_db, "--http", "127.0.0.1:0", "--no-tick")
    assert out.returncode == 1 and "cannot open the database file" in out.stderr
    assert "listening on" not in out.stderr


def test_sigterm_loses_nothing_accepted(tmp_path: Path, db_url: str, serve: type[Server]) -> None:
    """Requests keep coming while SIGTERM arrives: every one answered 200 is in the database,
    and the process exits 0."""
    project, db = with_contacts(tmp_path, db=db_url, ids=tuple(f"c{i}" for i in range(20)))
    server = serve(project, db, "--no-tick")
    accepted: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(timeout=30) as http:
            for i in range(10_000):
                event = {
                    "contact_id": f"c{n}",
                    "event": "pinged",
                    "at": f"2026-11-01T10:00:{i % 60:02d}Z",
                    "seq": f"{n}-{i}",
                }
                try:
                    r = http.post(server.url + "/v1/events", json=[event], headers=AUTH)
                except httpx.HTTPError:
                    return  # the listener has stopped accepting
                if r.status_code != 200:
                    return
                with lock:
                    accepted.append(f"{n}-{i}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(2)
    server.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=120)
    assert server.stop() == 0, server.log
    stored = {dict(props)["seq"] for _, _, props in events(db, "pinged")}
    assert accepted, server.log
    assert set(accepted) <= stored
    assert "Traceback" not in server.log
