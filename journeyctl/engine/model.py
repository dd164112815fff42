"""The engine's value types: contacts, events, enrollments, per-contact state, and decisions.

Times are aware datetimes in UTC inside the engine; outputs convert to the contact's zone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any, Final

from journeyctl.engine.draw import message_key

# The classes the engine makes per message, enrollment and contact spell out their __init__:
# mypyc compiles a hand-written one, while the one @dataclass generates stays interpreted
# Python (~5,000 instructions per Message). tests/engine/test_model.py holds them to the fields.

# Attribute names with meaning (SPEC §3); everything else is a typed attribute.
WELL_KNOWN_COLUMNS: Final = ("id", "email", "phone", "name", "timezone")


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    timezone: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def as_template_value(self) -> dict[str, Any]:
        """`contact` as templates and expressions see it: typed columns plus the known ones."""
        # Empty is empty: the text columns every message prints are "" when missing, so
        # `{{ contact.name | trim }}님` and `~ '님'` print no "None" (typed attributes keep
        # None, which `default` and the sandbox's finalize handle).
        return {
            **self.attrs,
            "id": self.id,
            "email": self.email or "",
            "phone": self.phone or "",
            "name": self.name or "",
            "timezone": self.timezone,
        }


@dataclass(frozen=True, slots=True)
class Event:
    contact_id: str
    name: str
    at: datetime  # aware, UTC
    props: tuple[tuple[str, Any], ...] = ()
    # False for history: events before `simulate --start`, or older than `max_age` when first
    # imported by `run` (SPEC §2: importing old history never mass-mails). They still count as facts.
    enrolls: bool = True

    def prop(self, name: str, default: Any = None) -> Any:
        return next((v for k, v in self.props if k == name), default)

    @property
    def natural_key(self) -> tuple[str, str, str, tuple[tuple[str, Any], ...]]:
        """SPEC §3: re-importing the same (contact, event, time, properties) is a no-op."""
        return (self.contact_id, self.name, self.at.isoformat(), self.props)


class Outcome(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    EXITED = "exited"
    GOAL = "goal"


class Status(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"


@dataclass(slots=True, init=False)
class Enrollment:
    id: str  # deterministic: sequence, contact and entry time
    contact_id: str
    sequence: str
    version: str  # content hash of the sequence when entered or last migrated (SPEC §5)
    entered_at: datetime
    position: str | None  # id of the next step to run; None when ended
    due_at: datetime | None  # when `position` runs (or a wait_for times out)
    outcome: Outcome = Outcome.ACTIVE
    ended_at: datetime | None = None
    reason: str | None = None
    variant: str | None = None  # split arm taken, carried onto later messages
    waiting_since: datetime | None = None  # set while parked at a wait_for
    deferred_from: datetime | None = None  # first time the pending send was due
    deferred_by: str | None = None
    # Set while the step at `position` cannot run for this contact (a template or condition
    # failed on its data): "<project digest>:<contact digest>" of the failed attempt. The
    # enrollment waits, `reason` saying why, until either digest changes (Engine._rearm).
    held: str | None = None

    def __init__(
        self,
        id: str,
        contact_id: str,
        sequence: str,
        version: str,
        entered_at: datetime,
        position: str | None,
        due_at: datetime | None,
        outcome: Outcome = Outcome.ACTIVE,
        ended_at: datetime | None = None,
        reason: str | None = None,
        variant: str | None = None,
        waiting_since: datetime | None = None,
        deferred_from: datetime | None = None,
        deferred_by: str | None = None,
        held: str | None = None,
    ) -> None:
        self.id = id
        self.contact_id = contact_id
        self.sequence = sequence
        self.version = version
        self.entered_at = entered_at
        self.position = position
        self.due_at = due_at
        self.outcome = outcome
        self.ended_at = ended_at
        self.reason = reason
        self.variant = variant
        self.waiting_since = waiting_since
        self.deferred_from = deferred_from
        self.deferred_by = deferred_by
        self.held = held

    @property
    def is_active(self) -> bool:
        return self.outcome is Outcome.ACTIVE


# Not frozen, and never mutated but for `_key`, made when first read: a frozen dataclass's
# __init__ (one object.__setattr__ per field) costs 2.5 µs against 0.3 µs, and every message
# of a tick or a simulation makes one.
@dataclass(slots=True, unsafe_hash=True, init=False)
class Message:
    """One send decision. `status` sent means handed to delivery; skipped carries a reason.

    `key`, the idempotency key (SPEC §5), is a SHA-256 of the message's contact, sequence,
    enrollment and step: made when first read (delivery, the store), not for every decision
    (a simulation reads none: ~9% of its time went into keys). `_key` None: not made yet.
    Derived from compared fields, it takes no part in equality or the hash itself.
    `dataclasses.replace` copies `_key` as it is: pass `_key=None` when changing a field the
    key is made of."""

    # First: the constructor takes it first (`_pickled_as_arguments` passes fields in order).
    _key: str | None = field(compare=False)
    contact_id: str
    sequence: str
    step: str
    channel: str
    at: datetime
    status: Status
    enrollment_id: str
    is_marketing: bool
    reason: str | None = None
    deferred_from: datetime | None = None
    deferred_by: str | None = None
    variant: str | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    to: str | None = None
    unsubscribe_url: str | None = None

    def __init__(
        self,
        _key: str | None,
        contact_id: str,
        sequence: str,
        step: str,
        channel: str,
        at: datetime,
        status: Status,
        enrollment_id: str,
        is_marketing: bool,
        reason: str | None = None,
        deferred_from: datetime | None = None,
        deferred_by: str | None = None,
        variant: str | None = None,
        subject: str | None = None,
        text: str | None = None,
        html: str | None = None,
        to: str | None = None,
        unsubscribe_url: str | None = None,
    ) -> None:
        self._key = _key
        self.contact_id = contact_id
        self.sequence = sequence
        self.step = step
        self.channel = channel
        self.at = at
        self.status = status
        self.enrollment_id = enrollment_id
        self.is_marketing = is_marketing
        self.reason = reason
        self.deferred_from = deferred_from
        self.deferred_by = deferred_by
        self.variant = variant
        self.subject = subject
        self.text = text
        self.html = html
        self.to = to
        self.unsubscribe_url = unsubscribe_url

    @property
    def key(self) -> str:
        key = self._key
        if key is None:
            key = self._key = message_key(
                self.contact_id, self.sequence, self.enrollment_id, self.step
            )
        return key


@dataclass(frozen=True, slots=True)
class Decision:
    """A line of a contact's story for `explain`: what the engine decided, when, and on what."""

    at: datetime
    sequence: str | None
    kind: str  # enrolled | not-enrolled | branch | split | deferred | skipped | sent | exit | goal | completed | wait | wait_for
    detail: str
    inputs: tuple[tuple[str, Any], ...] = ()


@dataclass(slots=True, init=False)
class TriggerMark:
    """Per (contact, sequence) trigger bookkeeping: last check time and last value."""

    checked_at: datetime | None = None
    value: bool | None = None

    def __init__(self, checked_at: datetime | None = None, value: bool | None = None) -> None:
        self.checked_at = checked_at
        self.value = value


@dataclass(slots=True, init=False)
class SegmentHorizon:
    """A segment check's horizon (engine.horizon) and the facts it was computed on: the
    contact, how many events it had, how many of them had a name the evaluation read, how many
    messages (-1 when not read), and the reads themselves. `skip_to`: the next check at or
    after the horizon. A compiled class, not a tuple: read at every instant of every contact."""

    contact: Contact
    n_events: int
    n_named: int
    n_messages: int
    reads: int
    horizon: datetime
    skip_to: datetime | None

    def __init__(
        self,
        contact: Contact,
        n_events: int,
        n_named: int,
        n_messages: int,
        reads: int,
        horizon: datetime,
        skip_to: datetime | None,
    ) -> None:
        self.contact = contact
        self.n_events = n_events
        self.n_named = n_named
        self.n_messages = n_messages
        self.reads = reads
        self.horizon = horizon
        self.skip_to = skip_to


@dataclass(slots=True, init=False)
class ContactState:
    """Everything the engine needs about one contact; the store loads and saves it whole.

    The engine mutates it in place (for speed) but performs no I/O and reads no clock.
    """

    contact: Contact
    enrollments: list[Enrollment] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # processed, sorted by `at`
    pending: list[Event] = field(default_factory=list)  # imported, not yet processed
    messages: list[Message] = field(default_factory=list)  # decisions already made
    cursor: datetime | None = None  # everything up to and including this time is processed
    triggers: dict[str, TriggerMark] = field(default_factory=dict)  # per sequence id
    suppressed: dict[str, datetime] = field(default_factory=dict)  # reason -> since
    trace: list[Decision] | None = None  # only collected for `explain`
    cap_times: list[datetime] = field(default_factory=list)  # sent marketing messages, sorted
    # Cache of the next trigger alarm per sequence (valid while later than `cursor`); not
    # persisted, and cleared whenever the contact's attributes change.
    alarms: dict[str, datetime | None] = field(default_factory=dict)
    # Per segment sequence: its horizon (engine.horizon). Not persisted either; void once the
    # facts change.
    horizons: dict[str, SegmentHorizon] = field(default_factory=dict)
    # Whether segment checks that cannot change anything may be skipped: only while the whole
    # future of the contact's facts is known (Engine.replay, simulate). `run` learns attribute
    # changes between ticks without a time, so it must check at every fire.
    skip_checks: bool = False

    def __init__(
        self,
        contact: Contact,
        enrollments: list[Enrollment] | None = None,
        events: list[Event] | None = None,
        pending: list[Event] | None = None,
        messages: list[Message] | None = None,
        cursor: datetime | None = None,
        triggers: dict[str, TriggerMark] | None = None,
        suppressed: dict[str, datetime] | None = None,
        trace: list[Decision] | None = None,
        cap_times: list[datetime] | None = None,
        alarms: dict[str, datetime | None] | None = None,
        horizons: dict[str, SegmentHorizon] | None = None,
        skip_checks: bool = False,
    ) -> None:
        self.contact = contact
        self.enrollments = [] if enrollments is None else enrollments
        self.events = [] if events is None else events
        self.pending = [] if pending is None else pending
        self.messages = [] if messages is None else messages
        self.cursor = cursor
        self.triggers = {} if triggers is None else triggers
        self.suppressed = {} if suppressed is None else suppressed
        self.trace = trace
        self.cap_times = [] if cap_times is None else cap_times
        self.alarms = {} if alarms is None else alarms
        self.horizons = {} if horizons is None else horizons
        self.skip_checks = skip_checks

    def active(self) -> list[Enrollment]:
        return [e for e in self.enrollments if e.is_active]


@dataclass(init=False)
class StepResult:
    """What `engine.advance` returns for one contact: new decisions and the next wake-up."""

    messages: list[Message] = field(default_factory=list)
    changed: list[Enrollment] = field(default_factory=list)  # may name one several times
    next_due: datetime | None = None
    # Messages whose content failed to render for this contact's data, each with its located
    # reason (the ledger records them failed), and held enrollments that were let go again
    # because the data or the project changed (their failed rows make way for the retry).
    failures: list[tuple[Message, str]] | None = None
    rearmed: list[Enrollment] | None = None

    def __init__(
        self,
        messages: list[Message] | None = None,
        changed: list[Enrollment] | None = None,
        next_due: datetime | None = None,
        failures: list[tuple[Message, str]] | None = None,
        rearmed: list[Enrollment] | None = None,
    ) -> None:
        self.messages = [] if messages is None else messages
        self.changed = [] if changed is None else changed
        self.next_due = next_due
        self.failures = failures
        self.rearmed = rearmed


EMPTY_PROPS: Final[tuple[tuple[str, Any], ...]] = ()


def _pickled_as_arguments(cls: type) -> None:
    """Pickle and copy as `cls(*fields)`: ~1.5x cheaper than the slots dataclasses' default
    state protocol, and the only way once compiled (engine.native): the frozen classes'
    attributes cannot be set after construction, and a compiled class with its own __init__
    cannot be made without its arguments (`plan` deep-copies a ContactState)."""
    values = attrgetter(*(f.name for f in fields(cls)))

    def reduce(self: object) -> tuple[Callable[..., object], tuple[object, ...]]:
        return cls, values(self)

    cls.__reduce__ = reduce  # type: ignore[method-assign,assignment]


for _cls in (
    Contact, Event, Enrollment, Message, Decision, TriggerMark, ContactState, StepResult,
    SegmentHorizon,
):  # fmt: skip
    _pickled_as_arguments(_cls)
