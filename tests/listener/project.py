"""A project for the listener's tests: marketing email with HTML links, listener links under
http.public_url, contacts and events written beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.builders import build_tree
from tests.listener.conftest import PUBLIC

WELCOME = """
sequence: welcome
trigger: {event: subscribed}
steps:
  - {send: hello, channel: email, subject: "(광고) Welcome {{ contact.name }}", template: welcome/hello.html.j2}
  - wait: 1d
  - {send: followup, channel: email, subject: "(광고) Still there?", template: welcome/followup.html.j2}
"""

CART = """
sequence: cart
trigger: {event: cart_abandoned}
reentry: always
steps:
  - wait: 1h
  - {send: reminder, channel: email, subject: "(광고) Your cart", body: "Your cart is waiting. {{ unsubscribe_url }}"}
"""

HELLO = """<html><body>
<p>Hi {{ contact.name }}, see <a href="https://shop.example.com/new?utm=a&amp;b=1">what's new</a>
and <a href='https://shop.example.com/sale'>the sale</a>, or write to
<a href="mailto:help@example.com">us</a>.</p>
<p><a href="{{ unsubscribe_url }}">수신거부 / unsubscribe</a></p>
</body></html>
"""

FOLLOWUP = """<html><body><p>Still there, {{ contact.name }}?</p>
<p><a href="{{ unsubscribe_url }}">unsubscribe</a></p></body></html>
"""


def journey(channel: str, track: bool = False, extra: str = "") -> str:
    tracking = ", track: {opens: true, clicks: true}" if track else ""
    return (
        "timezone: Asia/Seoul\n"
        'unsubscribe_secret: "${UNSUBSCRIBE_SECRET}"\n'
        f"http: {{public_url: {PUBLIC}}}\n"
        "contacts: {fields: {consent_email: bool, tracking_consent: bool}}\n"
        f"channels:\n  email: {{{channel}{tracking}}}\n{extra}"
    )


FILE_CHANNEL = "type: file, path: outbox/, medium: email"


def smtp_channel(port: int) -> str:
    return f'type: smtp, host: 127.0.0.1, port: {port}, from: "Shop <shop@example.com>"'


def write_project(
    root: Path, channel: str = FILE_CHANNEL, *, track: bool = False, extra: str = ""
) -> Path:
    build_tree(
        root,
        {
            "journey.yaml": journey(channel, track, extra),
            "welcome.yaml": WELCOME,
            "cart.yaml": CART,
            "templates/welcome/hello.html.j2": HELLO,
            "templates/welcome/followup.html.j2": FOLLOWUP,
        },
    )
    return root


def write_data(root: Path, now: datetime, ids: tuple[str, ...] = ("c1", "c2")) -> tuple[Path, Path]:
    contacts = root / "contacts.csv"
    contacts.write_text(
        "id,email,name,consent_email\n"
        + "".join(f"{c},{c}@example.com,{c.upper()},true\n" for c in ids),
        encoding="utf-8",
    )
    events = root / "events.csv"
    at = (now - timedelta(minutes=10)).astimezone(UTC).isoformat()
    events.write_text(
        "contact_id,event,at\n" + "".join(f"{c},subscribed,{at}\n" for c in ids),
        encoding="utf-8",
    )
    return contacts, events


def delivered(
    tmp_path: Path,
    channel: str = FILE_CHANNEL,
    *,
    track: bool = False,
    ids: tuple[str, ...] = ("c1", "c2"),
    db: str | None = None,
) -> tuple[Path, str, datetime]:
    """A project whose contacts subscribed 10 minutes ago, and `run` has sent them `hello`:
    (project, database, the run's now). `db`: the test's store (default: a SQLite file)."""
    from tests.listener.helpers import run

    project = write_project(tmp_path / "p", channel, track=track)
    db = db or str(tmp_path / "state.db")
    now = datetime.now(UTC)
    contacts, events = write_data(project, now, ids)
    run(project, db, now, "--contacts", contacts, "--events", events)
    return project, db, now


def with_contacts(
    tmp_path: Path, ids: tuple[str, ...] = ("c1", "c2"), db: str | None = None
) -> tuple[Path, str]:
    """A project and a database holding its contacts (no events): (project, database)."""
    from tests.listener.helpers import journeyctl

    project = write_project(tmp_path / "p")
    db = db or str(tmp_path / "state.db")
    contacts, _ = write_data(project, datetime.now(UTC), ids)
    out = journeyctl("contacts", "import", contacts, "--db", db, "--project", project)
    assert out.returncode == 0, out.stderr
    return project, db
