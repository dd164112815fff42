"""`journeyctl simulate` and `explain` as users run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from journeyctl.cli import _register, app
from tests.builders import build_tree

_register()
ROOT = Path(__file__).resolve().parents[2]

PROJECT = {
    "journey.yaml": """
        timezone: Asia/Seoul
        quiet_hours: {start: "21:00", end: "08:00"}
        contacts:
          fields: {vip: bool}
        channels:
          email: {type: file, path: outbox/, medium: email}
    """,
    "welcome.yaml": """
        trigger: {event: subscribed}
        steps:
          - send: hello
            channel: email
            subject: "{{ contact.name }}님 환영합니다"
            body: hi
          - wait: 2d
          - branch:
              if: "contact.vip"
              then: [{send: vip, channel: email, subject: "VIP", body: v}]
          - split:
              a: {weight: 1, steps: [{send: offer-a, channel: email, subject: A, body: a}]}
              b: {weight: 1, steps: [{send: offer-b, channel: email, subject: B, body: b}]}
    """,
    "contacts.csv": "id,email,name,timezone,vip\nc1,a@x.io,김철수,Asia/Seoul,true\nc2,b@x.io,Bob,America/New_York,false\nc3,,Nomail,,false\n",
    "events.csv": "contact_id,event,at\nc1,subscribed,2026-11-01T22:10:00+09:00\nc2,subscribed,2026-11-01T09:00:00-05:00\nc3,subscribed,2026-11-01T12:00:00+09:00\nc1,subscribed,2026-10-01T10:00:00+09:00\n",
}


def project(tmp_path: Path) -> Path:
    return build_tree(tmp_path, PROJECT)


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    return r.exit_code, r.stdout, r.stderr


def test_simulate_json_is_the_spec_shape(tmp_path: Path) -> None:
    d = project(tmp_path)
    code, out, _ = invoke("simulate", str(d), "--contacts", str(d / "contacts.csv"),
                          "--events", str(d / "events.csv"), "--start", "2026-11-01",
                          "--days", "10", "--format", "json")  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert set(doc) >= {"start", "end", "messages", "enrollments", "summary"}
    assert doc["start"] == "2026-11-01T00:00:00+09:00"
    assert doc["end"] == "2026-11-11T00:00:00+09:00"
    first = doc["messages"][0]
    assert list(first) == ["contact_id", "sequence", "step", "channel", "at", "status", "reason",
                           "deferred_from", "deferred_by", "variant", "subject"]  # fmt: skip
    hello = {m["contact_id"]: m for m in doc["messages"] if m["step"] == "hello"}
    # c1 subscribed at 22:10 KST: quiet hours defer it to 08:00, times in the contact's zone
    assert hello["c1"]["at"] == "2026-11-02T08:00:00+09:00"
    assert hello["c1"]["deferred_by"] == "quiet_hours"
    assert hello["c1"]["deferred_from"] == "2026-11-01T22:10:00+09:00"
    assert hello["c1"]["subject"] == "김철수님 환영합니다"
    assert hello["c2"]["at"] == "2026-11-01T09:00:00-05:00"
    assert (hello["c3"]["status"], hello["c3"]["reason"]) == ("skipped", "no_address")
    # the October event is history: it does not enroll a second time
    assert sum(1 for e in doc["enrollments"] if e["contact_id"] == "c1") == 1
    s = doc["summary"]["welcome"]
    assert s["entered"] == 3 and s["deferred"] == {"quiet_hours": 1}
    assert s["skipped"] == {"no_address": 2}  # c3's hello and its split offer
    assert s["steps"]["hello"] == {"sent": 2, "skipped": 1, "deferred": 1}
    assert {m["variant"] for m in doc["messages"] if m["step"].startswith("offer")} <= {"a", "b"}


def test_simulate_csv_and_out_file(tmp_path: Path) -> None:
    d = project(tmp_path)
    out_file = tmp_path / "timeline.csv"
    code, out, _ = invoke("simulate", str(d), "--contacts", str(d / "contacts.csv"),
                          "--events", str(d / "events.csv"), "--start", "2026-11-01",
                          "--format", "csv", "--out", str(out_file))  # fmt: skip
    assert code == 0 and out == ""
    raw = out_file.read_text(encoding="utf-8")
    assert raw.startswith("\ufeff")  # a file is meant for a spreadsheet: Excel reads Hangul
    lines = raw.removeprefix("\ufeff").splitlines()
    assert lines[0].startswith("contact_id,sequence,step,channel,at,status")
    assert any(",hello,email,2026-11-02T08:00:00+09:00,sent," in line for line in lines)


def test_simulate_table_summary(tmp_path: Path) -> None:
    d = project(tmp_path)
    code, out, _ = invoke("simulate", str(d), "--contacts", str(d / "contacts.csv"),
                          "--events", str(d / "events.csv"), "--start", "2026-11-01")  # fmt: skip
    assert code == 0
    assert "Simulated 3 contacts" in out and "Messages per day" in out and "quiet_hours 1" in out


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    d = project(tmp_path)
    code, _, err = invoke("simulate", str(d), "--contacts", str(d / "contacts.csv"))
    assert code == 2 and "--start" in err
    code, _, err = invoke("simulate", str(d), "--contacts", str(d / "contacts.csv"),
                          "--start", "yesterday")  # fmt: skip
    assert code == 2 and "'yesterday' is not an ISO 8601" in err
    code, _, err = invoke("simulate", str(d), "--contacts", str(d / "contacts.csv"),
                          "--start", "2026-11-01", "--assume", "opened=2")  # fmt: skip
    assert code == 2 and "opened=2" in err


def test_bad_contact_row_is_located_and_nothing_runs(tmp_path: Path) -> None:
    d = project(tmp_path)
    (d / "contacts.csv").write_text("id,email,name,timezone,vip\nc1,a@x.io,A,Asia/Seoul,maybe\n")
    code, out, err = invoke("simulate", str(d), "--contacts", str(d / "contacts.csv"),
                            "--start", "2026-11-01")  # fmt: skip
    assert code == 1 and out == ""
    assert "contacts.csv:2:5: error[bad-bool]" in err


def test_explain_tells_the_branch_values(tmp_path: Path) -> None:
    d = project(tmp_path)
    code, out, _ = invoke("explain", str(d), "c1", "--contacts", str(d / "contacts.csv"),
                          "--events", str(d / "events.csv"), "--start", "2026-11-01",
                          "--format", "json")  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    kinds = [x["kind"] for x in doc["decisions"]]
    assert kinds[:3] == ["enrolled", "deferred", "sent"]
    branch = next(x for x in doc["decisions"] if x["kind"] == "branch")
    assert branch["inputs"] == {"if": "contact.vip", "value": True, "contact.vip": True}
    assert branch["at"] == "2026-11-04T08:00:00+09:00"


def test_explain_text_says_enrollment_times_as_its_story_does(tmp_path: Path) -> None:
    d = project(tmp_path)
    code, out, _ = invoke("explain", str(d), "c1", "--contacts", str(d / "contacts.csv"),
                          "--events", str(d / "events.csv"), "--start", "2026-11-01")  # fmt: skip
    assert code == 0
    tail = out[out.index("Enrollments:") :].splitlines()[1:]
    assert tail and all(" entered 2026-11-" in line and "T" not in line.split("entered")[1]
                        for line in tail), tail  # fmt: skip


def test_same_output_across_hash_seeds(tmp_path: Path) -> None:
    d = project(tmp_path)
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        r = subprocess.run(
            [sys.executable, "-m", "journeyctl", "simulate", str(d), "--contacts",
             str(d / "contacts.csv"), "--events", str(d / "events.csv"), "--start", "2026-11-01",
             "--assume", "opened=0.5,clicked=0.2", "--seed", "7", "--format", "json"],
            capture_output=True, text=True, env=env, check=True, cwd=ROOT,
        )  # fmt: skip
        outs.append(r.stdout)
    assert outs[0] == outs[1] and json.loads(outs[0])["messages"]
