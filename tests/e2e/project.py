"""A small project exercising every timing rule, with seeded contacts and events over two weeks.

Quiet hours, a frequency cap, calendar and clock waits, a branch on a click, wait_for with a
timeout, an event trigger, a date trigger and a segment trigger on a cron check.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from journeyctl.engine.model import Contact, Event
from tests.builders import build_tree

KST = ZoneInfo("Asia/Seoul")

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret  # `run` refuses to start without one
quiet_hours: {start: "21:00", end: "08:00"}
frequency_cap: {max: 2, per: 1d}
contacts:
  fields: {birthday: date, last_active_at: datetime, vip: bool}
channels:
  email: {type: file, path: outbox/, medium: email}
  sms: {type: file, path: outbox/, medium: sms}
"""

WELCOME = """
sequence: welcome
trigger: {event: subscribed}
exit_on: [unsubscribed]
steps:
  - send: hello
    channel: email
    subject: "Welcome {{ contact.name }}"
    body: "hello"
  - wait: 1d
  - branch:
      if: "clicked('hello')"
      then:
        - send: thanks
          channel: email
          subject: "Thanks"
          body: "thanks"
      else:
        - send: nudge
          channel: email
          subject: "Did you see?"
          body: "nudge"
  - wait_for: {event: purchased, timeout: 2d}
    on_event: [{exit: converted}]
    on_timeout:
      - send: last-call
        channel: sms
        body: "last call {{ contact.name }}"
  - wait: {until: "10:00", days: [mon, wed, fri]}
  - send: digest
    channel: email
    subject: "Digest"
    body: "digest"
"""

CART = """
sequence: cart
trigger: {event: cart_abandoned}
reentry: always
goal: {event: purchased, within: 3d}
steps:
  - wait: 2h
  - send: cart-reminder
    channel: email
    subject: "Your cart"
    body: "cart"
  - wait: 30m
  - send: cart-sms
    channel: sms
    body: "cart sms"
"""

BIRTHDAY = """
sequence: birthday
trigger:
  date: {field: birthday, every: year, at: "09:00", offset: -1d}
reentry: always
steps:
  - send: birthday
    channel: email
    subject: "Happy birthday"
    body: "hb"
"""

WINBACK = """
sequence: winback
trigger:
  segment: "days_since(contact.last_active_at) >= 30"
  check: "0 10 * * *"
steps:
  - send: comeback
    channel: email
    subject: "Come back"
    body: "cb"
  - wait: 3d
  - send: reminder
    channel: email
    subject: "Still there?"
    body: "r"
"""

START = datetime(2026, 11, 2, 0, 0, tzinfo=KST)
DAYS = 14


def write_project(root: Path) -> Path:
    build_tree(
        root,
        {
            "journey.yaml": JOURNEY,
            "welcome.yaml": WELCOME,
            "cart.yaml": CART,
            "birthday.yaml": BIRTHDAY,
            "winback.yaml": WINBACK,
        },
    )
    return root


def population(n: int = 40, seed: int = 7) -> tuple[list[Contact], list[Event]]:
    """`n` contacts and their events inside [START, START + DAYS), seeded."""
    rnd = random.Random(seed)
    contacts: list[Contact] = []
    events: list[Event] = []
    span = DAYS * 24 * 60

    def when() -> datetime:
        return START + timedelta(minutes=rnd.randrange(span))

    for i in range(n):
        cid = f"c{i:03d}"
        tz = rnd.choice(
            ["Asia/Seoul", "Asia/Seoul", "America/New_York", "Europe/Berlin", "bad/zone"]
        )
        bday = (START + timedelta(days=rnd.randrange(-3, DAYS + 3))).date()
        attrs = {
            "birthday": date(1990, bday.month, bday.day) if rnd.random() < 0.5 else None,
            "last_active_at": START - timedelta(days=rnd.randrange(10, 60)),
            "vip": rnd.random() < 0.2,
        }
        contacts.append(Contact(cid, f"{cid}@example.com", "01012345678", cid.upper(), tz, attrs))
        if rnd.random() < 0.7:
            t = when()
            events.append(Event(cid, "subscribed", t))
            if rnd.random() < 0.4:
                events.append(Event(cid, "clicked", t + timedelta(hours=rnd.randrange(1, 20))))
            if rnd.random() < 0.3:
                events.append(Event(cid, "purchased", t + timedelta(hours=rnd.randrange(25, 80))))
            if rnd.random() < 0.1:
                events.append(Event(cid, "unsubscribed", t + timedelta(hours=rnd.randrange(2, 90))))
        for _ in range(rnd.randrange(3)):
            t = when()
            events.append(Event(cid, "cart_abandoned", t))
            if rnd.random() < 0.3:
                events.append(
                    Event(cid, "purchased", t + timedelta(minutes=rnd.randrange(30, 300)))
                )
    events.sort(key=lambda e: (e.at, e.contact_id))
    return contacts, events
