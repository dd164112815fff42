"""The stock library and the example data: valid, regenerable, and exercising every sequence."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app

ROOT = Path(__file__).resolve().parents[2]
STOCK = ROOT / "sequences"
EXAMPLES = ROOT / "examples"
APP = EXAMPLES / "app-push"

CONTACT_COLUMNS = [
    "id", "email", "phone", "name", "timezone", "locale", "signup_at", "birthday", "orders",
    "last_purchase_at", "last_active_at", "consent_email", "consent_sms", "night_consent",
    "consent_at", "vip", "city", "country",
]  # fmt: skip
SHOP_EVENTS = {
    "subscribed", "cart_abandoned", "purchased", "shipped", "delivered",
    "opened", "clicked", "unsubscribed", "bounced",
}  # fmt: skip


def cli(*args: str) -> tuple[int, str, str]:
    _register()
    result = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_examples", ROOT / "scripts" / "gen_examples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(
    "args",
    [
        ("validate", str(STOCK)),
        ("validate", str(STOCK), "--contacts", str(EXAMPLES / "contacts.csv")),
        ("validate", str(STOCK), "--contacts", str(EXAMPLES / "contacts-cp949.csv")),
        ("validate", str(APP)),
        ("validate", str(APP), "--contacts", str(APP / "contacts.csv")),
    ],
)
def test_projects_validate_without_errors_or_warnings(args: tuple[str, ...]) -> None:
    code, _, err = cli(*args, "--strict")
    assert code == 0, err


def test_every_yaml_file_names_its_schema_on_the_first_line() -> None:
    for project, rel in ((STOCK, ".."), (APP, "../..")):
        for path in sorted(project.glob("*.yaml")):
            kind = "journey" if path.name == "journey.yaml" else "sequence"
            first = path.read_text(encoding="utf-8").splitlines()[0]
            assert (
                first == f"# yaml-language-server: $schema={rel}/docs/schema/{kind}.schema.json"
            ), path


def test_generator_reproduces_the_committed_files_byte_for_byte() -> None:
    files = generator().generate()
    assert {p.relative_to(EXAMPLES).as_posix() for p in files} == {
        "contacts.csv", "contacts-cp949.csv", "events.csv", "app-push/contacts.csv", "app-push/events.csv",
    }  # fmt: skip
    for path, data in files.items():
        assert path.read_bytes() == data, f"{path} is stale: run python scripts/gen_examples.py"


def test_cp949_file_is_the_same_contacts_as_excel_saves_them() -> None:
    raw = (EXAMPLES / "contacts-cp949.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == raw.count(b"\n") == 321
    utf8 = (EXAMPLES / "contacts.csv").read_text(encoding="utf-8")
    assert raw.decode("cp949").replace("\r\n", "\n") == utf8
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really CP949, so the reader's detection is exercised


def test_contacts_cover_the_cases_the_demo_needs() -> None:
    rows = read_csv(EXAMPLES / "contacts.csv")
    assert list(rows[0]) == CONTACT_COLUMNS
    assert len(rows) >= 300 and len({r["id"] for r in rows}) == len(rows)
    international = [r for r in rows if r["locale"] == "en"]
    assert 0.2 <= len(international) / len(rows) <= 0.3
    assert all(r["locale"] in ("ko", "en") for r in rows)
    assert any(r["timezone"] == "" for r in rows) and any(r["timezone"] == "KST" for r in rows)
    assert any(not r["email"] for r in rows) and any(not r["phone"] for r in rows)
    assert any(r["birthday"].endswith("-02-29") for r in rows)
    assert sum(r["birthday"][5:7] == "11" for r in rows) >= 10
    assert all(
        r[c] in ("true", "false")
        for r in rows
        for c in ("consent_email", "consent_sms", "night_consent", "vip")
    )
    snapshot = datetime.fromisoformat("2026-11-01T00:00:00+09:00")
    inactive = [
        r
        for r in rows
        if snapshot - datetime.fromisoformat(r["last_active_at"]) >= timedelta(days=30)
    ]
    assert 40 <= len(inactive) <= 160
    # consent given ~2 years before November 2026: the -30d renewal notice falls in November
    renewal = [
        r for r in rows if r["consent_at"] and "2024-12-01" <= r["consent_at"][:10] <= "2024-12-31"
    ]
    assert len(renewal) >= 8
    for r in rows:
        for col in ("signup_at", "last_purchase_at", "last_active_at", "consent_at"):
            if r[col]:
                assert datetime.fromisoformat(r[col]).tzinfo is not None, (r["id"], col)
        if r["consent_at"]:
            assert datetime.fromisoformat(r["signup_at"]) <= datetime.fromisoformat(
                r["consent_at"]
            ), r["id"]


def test_events_are_causal_and_in_the_window() -> None:
    rows = read_csv(EXAMPLES / "events.csv")
    assert list(rows[0]) == [
        "contact_id", "event", "at", "step", "order_id", "amount", "product", "items",
    ]  # fmt: skip
    # What a cart held, for the cart reminder's {{ event.items }} (journey.yaml declares them)
    for r in rows:
        if r["event"] == "cart_abandoned":
            assert r["product"] and r["items"].split("|")[0] == r["product"]
        else:
            assert not r["product"] and not r["items"]
    assert 500 <= len(rows) <= 2000
    assert set(Counter(r["event"] for r in rows)) == SHOP_EVENTS
    ids = {r["id"] for r in read_csv(EXAMPLES / "contacts.csv")}
    at = {i: datetime.fromisoformat(r["at"]) for i, r in enumerate(rows)}
    assert all(r["at"].endswith("+09:00") and r["contact_id"] in ids for r in rows)
    assert min(at.values()) >= datetime.fromisoformat("2026-10-15T00:00:00+09:00")
    assert max(at.values()) < datetime.fromisoformat("2026-12-01T00:00:00+09:00")
    assert list(at.values()) == sorted(at.values())
    bought = {r["order_id"]: at[i] for i, r in enumerate(rows) if r["event"] == "purchased"}
    shipped = {r["order_id"]: at[i] for i, r in enumerate(rows) if r["event"] == "shipped"}
    for i, r in enumerate(rows):
        if r["event"] == "purchased":
            assert int(r["amount"]) > 0
        if r["event"] == "shipped":
            assert (
                timedelta(days=1)
                <= at[i] - bought[r["order_id"]].replace(hour=0, minute=0)
                < timedelta(days=10)
            )
        if r["event"] == "delivered":
            assert timedelta(hours=1) < at[i] - shipped[r["order_id"]] < timedelta(days=4)
        if r["event"] in ("opened", "clicked"):
            assert r["step"], r


def test_headline_demo_exercises_every_stock_sequence() -> None:
    code, out, err = cli(
        "simulate", str(STOCK), "--contacts", str(EXAMPLES / "contacts.csv"),
        "--events", str(EXAMPLES / "events.csv"), "--start", "2026-11-01", "--days", "30",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    stock = {p.stem for p in STOCK.glob("*.yaml")} - {"journey"}
    summary = doc["summary"]
    assert set(summary) == stock
    for name in stock:
        assert summary[name]["sent"] > 0, name
    sent = [m for m in doc["messages"] if m["status"] == "sent"]
    # quiet hours, suppression and conversions all show up in the demo
    assert any(m["deferred_by"] == "quiet_hours" for m in sent)
    assert Counter(m["reason"] for m in doc["messages"] if m["status"] == "skipped").keys() >= {
        "unsubscribed", "bounced", "no_address",
    }  # fmt: skip
    assert summary["win-back"]["goals"] > 0 and summary["cart-reminder"]["goals"] > 0
    ad = {"welcome", "cart-reminder", "post-purchase", "win-back", "birthday", "vip"}
    for m in sent:
        if m["channel"] == "email":
            assert m["subject"].startswith("(광고)") == (m["sequence"] in ad), m


def test_app_push_demo_sends_through_every_sequence() -> None:
    code, out, err = cli(
        "simulate", str(APP), "--contacts", str(APP / "contacts.csv"),
        "--events", str(APP / "events.csv"), "--start", "2026-11-01", "--days", "30",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)["summary"]
    assert set(summary) == {"onboarding", "streak-reminder", "trial-ending", "trial-notice"}
    assert all(s["sent"] > 0 for s in summary.values()), summary
