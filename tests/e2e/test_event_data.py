"""The triggering event's data in templates and conditions, as a user runs it: properties
declared in journey.yaml (`events: {fields: {cart_abandoned: {...}}}`), imported from the
events file's extra columns, read as `event.product` / `event.items` in subjects, bodies and
branches; `validate` refuses undeclared ones; `run` (CLI, real SQLite) and `simulate` agree.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from journeyctl.cli import _register, app

REPO = Path(__file__).resolve().parents[2]

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret
channels:
  email: {type: file, path: outbox/, medium: email}
events:
  fields:
    cart_abandoned: {product: string, items: list, total: int}
"""

CART = """
sequence: cart
trigger: {event: cart_abandoned}
reentry: always
ad: false
steps:
  - wait: 1h
  - branch:
      if: "event.total >= 100000"
      then:
        - send: big-cart
          subject: "{{ event.product }} and {{ event.items | length - 1 }} more"
          template: big.txt
      else:
        - send: small-cart
          subject: "Still want {{ event.product }}?"
          body: "{% for i in event.items %}{{ i }};{% endfor %} at {{ event.at.strftime('%H:%M') }}"
"""

BIG = "Your cart: {% for i in event.items %}[{{ i }}]{% endfor %} ({{ event.name }})\n"

CONTACTS = "id,email,name\nc1,c1@example.com,One\nc2,c2@example.com,Two\nc3,c3@example.com,Three\n"

# `total` is text in the file and an int in the branch: "99000" < 100000 only as numbers.
EVENTS = (
    "contact_id,event,at,product,items,total\n"
    "c1,cart_abandoned,2026-11-02T10:00:00+09:00,셔츠,셔츠|양말|모자,150000\n"
    "c2,cart_abandoned,2026-11-02T11:00:00+09:00,머그컵,머그컵,99000\n"
    'c3,cart_abandoned,2026-11-02T12:00:00+09:00,Tote,"[""Tote"", ""Cap""]",20000\n'
)


def cli(*args: str) -> tuple[int, str, str]:
    _register()
    r = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})
    return r.exit_code, r.stdout, r.stderr


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def project(tmp_path: Path, cart: str = CART, journey: str = JOURNEY) -> Path:
    proj = tmp_path / "proj"
    write(proj / "journey.yaml", journey)
    write(proj / "cart.yaml", cart)
    write(proj / "templates" / "big.txt", BIG)
    write(tmp_path / "contacts.csv", CONTACTS)
    write(tmp_path / "events.csv", EVENTS)
    return proj


def test_run_and_simulate_render_the_event_alike(tmp_path: Path) -> None:
    proj = project(tmp_path)
    code, out, err = cli("validate", str(proj))
    assert code == 0, out + err
    code, out, err = cli("simulate", str(proj), "--contacts", str(tmp_path / "contacts.csv"),
                         "--events", str(tmp_path / "events.csv"), "--start", "2026-11-01",
                         "--days", "3", "--format", "json")  # fmt: skip
    assert code == 0, err
    predicted = {
        (m["contact_id"], m["step"], m["at"], m["subject"]) for m in json.loads(out)["messages"]
    }
    assert predicted == {
        ("c1", "big-cart", "2026-11-02T11:00:00+09:00", "셔츠 and 2 more"),
        ("c2", "small-cart", "2026-11-02T12:00:00+09:00", "Still want 머그컵?"),
        ("c3", "small-cart", "2026-11-02T13:00:00+09:00", "Still want Tote?"),
    }
    db = tmp_path / "j.db"
    code, out, err = cli("run", str(proj), "--db", str(db), "--contacts",
                         str(tmp_path / "contacts.csv"), "--now", "2026-11-01T09:00:00+09:00")  # fmt: skip
    assert code == 0, out + err
    for now in (
        "2026-11-02T10:30:00+09:00",
        "2026-11-02T12:20:00+09:00",
        "2026-11-03T00:00:00+09:00",
    ):
        code, out, err = cli("run", str(proj), "--db", str(db), "--events",
                             str(tmp_path / "events.csv"), "--now", now)  # fmt: skip
        assert code == 0, out + err
    code, out, _ = cli("messages", "--db", str(db), "--format", "json")
    assert code == 0
    ran = {(m["contact_id"], m["step"], m["at"], m["subject"]) for m in json.loads(out)}
    assert ran == predicted
    bodies = {}
    for line in (proj / "outbox" / "email.jsonl").read_text(encoding="utf-8").splitlines():
        m = json.loads(line)
        bodies[m["contact_id"]] = m["text"]
    assert bodies["c1"] == "Your cart: [셔츠][양말][모자] (cart_abandoned)\n"
    assert bodies["c2"] == "머그컵; at 11:00"  # `at` in the contact's zone
    assert bodies["c3"] == "Tote;Cap; at 12:00"  # a JSON array in a CSV cell


def test_jsonl_lists_and_typed_properties(tmp_path: Path) -> None:
    proj = project(tmp_path)
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text(
        json.dumps({"contact_id": "c1", "event": "cart_abandoned", "at": "2026-11-02T10:00:00+09:00",
                    "product": "셔츠", "items": ["셔츠", "양말"], "total": 120000}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )  # fmt: skip
    code, out, err = cli("simulate", str(proj), "--contacts", str(tmp_path / "contacts.csv"),
                         "--events", str(jsonl), "--start", "2026-11-01", "--days", "3",
                         "--format", "json")  # fmt: skip
    assert code == 0, err
    (m,) = json.loads(out)["messages"]
    assert (m["step"], m["subject"]) == ("big-cart", "셔츠 and 1 more")


def test_a_declared_property_that_does_not_parse_is_a_located_import_error(tmp_path: Path) -> None:
    proj = project(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "contact_id,event,at,product,items,total\n"
        "c1,cart_abandoned,2026-11-02T10:00:00+09:00,셔츠,셔츠,lots\n",
        encoding="utf-8",
    )
    code, _out, err = cli("simulate", str(proj), "--contacts", str(tmp_path / "contacts.csv"),
                         "--events", str(bad), "--start", "2026-11-01", "--days", "3")  # fmt: skip
    assert code != 0
    assert "bad.csv:2:6" in err and "bad-int" in err
    assert "events.fields.cart_abandoned" in err


def test_validate_refuses_undeclared_event_properties(tmp_path: Path) -> None:
    cart = CART.replace("{{ event.product }} and", "{{ event.colour }} and").replace(
        "event.total >= 100000", "event.price >= 100000"
    )
    proj = project(tmp_path, cart)
    write(proj / "templates" / "big.txt", "{{ event.size }}\n")
    code, out, _err = cli("validate", str(proj), "--format", "json")
    assert code == 1
    found = {
        (d["code"], d["message"], d["hint"])
        for d in json.loads(out)["diagnostics"]
        if d["code"] != "literal-secret"  # the test's own unsubscribe_secret
    }
    for prop in ("colour", "price", "size"):
        assert (
            "undeclared-variable",
            f"property '{prop}' of event 'cart_abandoned' is not declared",
            f"declare it in journey.yaml under events.fields.cart_abandoned "
            f"(e.g. events: {{fields: {{cart_abandoned: {{{prop}: string}}}}}})",
        ) in found, found
    assert len(found) == 3


def test_event_outside_an_event_triggered_sequence_is_undeclared(tmp_path: Path) -> None:
    cart = CART.replace("trigger: {event: cart_abandoned}", 'trigger: {segment: "contact.name"}')
    proj = project(tmp_path, cart)
    code, out, _ = cli("validate", str(proj), "--format", "json")
    assert code == 1
    diags = [d for d in json.loads(out)["diagnostics"] if d["code"] != "literal-secret"]
    codes = {d["code"] for d in diags}
    assert codes <= {"undeclared-variable", "unknown-name"} and "undeclared-variable" in codes
    assert any("event trigger" in d["message"] for d in diags)


def test_without_a_declaration_a_where_still_reads_properties_as_text(tmp_path: Path) -> None:
    journey = JOURNEY.split("events:")[0]
    cart = """
    sequence: cart
    trigger: {event: cart_abandoned, where: "event.total == '150000'"}
    ad: false
    steps:
      - send: hi
        subject: "hi"
        body: "hi"
    """
    proj = project(tmp_path, cart, journey)
    code, out, err = cli("validate", str(proj))
    assert code == 0, out + err
    code, out, err = cli("simulate", str(proj), "--contacts", str(tmp_path / "contacts.csv"),
                         "--events", str(tmp_path / "events.csv"), "--start", "2026-11-01",
                         "--days", "3", "--format", "json")  # fmt: skip
    assert [m["contact_id"] for m in json.loads(out)["messages"]] == ["c1"]


def test_stock_cart_reminder_shows_the_cart(tmp_path: Path) -> None:
    """The stock library on the example data: the cart nudge lists what was left in the cart."""
    proj = tmp_path / "shop"
    shutil.copytree(REPO / "sequences", proj, ignore=shutil.ignore_patterns("outbox"))
    code, out, err = cli("preview", str(proj), "cart-reminder", "cart-nudge", "--format", "json")
    assert code == 0, err
    assert "<li>예시 상품 1</li>" in json.loads(out)["html"]
    db = tmp_path / "shop.db"
    _register()
    r = CliRunner().invoke(
        app,
        ["run", str(proj), "--db", str(db), "--contacts", str(REPO / "examples" / "contacts.csv"),
         "--events", str(REPO / "examples" / "events.csv"), "--now", "2026-11-03T12:00:00+09:00"],
        env={"NO_COLOR": "1", "UNSUBSCRIBE_SECRET": "test-only"},
    )  # fmt: skip
    assert r.exit_code == 0, r.stdout + r.stderr
    conn = sqlite3.connect(db)
    props = dict(
        conn.execute(
            "SELECT contact_id, props FROM events WHERE event = 'cart_abandoned' "
            "ORDER BY at DESC LIMIT 1"
        ).fetchall()
    )
    conn.close()
    assert props and all("items" in dict(json.loads(p)) for p in props.values())
    nudges = [
        json.loads(line)
        for line in (proj / "outbox" / "email.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["step"] == "cart-nudge"
    ]
    assert nudges
    for m in nudges:
        assert "<li>" in m["html"], m["contact_id"]
