"""The engine's value types: contacts, events, enrollments, per-contact state, and decisions.

Times are aware datetimes in UTC inside the engine; outputs convert to the contact's zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from operator import attrgetter
from types import MappingProxyType, NoneType, UnionType
from typing import Any, Final, Union, get_args, get_origin, get_type_hints

from journeyctl.engine.draw import message_key

# The classes the engine makes per message, enrollment and contact spell out their __init__:
# mypyc compiles a hand-written one, while the one @dataclass generates stays interpreted
# Python. tests/engine/test_model.py holds them to the fields.
#
# The fields declared here are the only list of them: every serializer (pickling, engine.wire,
# the ledger's rows in store.sqlite, the records of channels.records and the outbox) is derived
# from them through `serial_fields`. What a serializer needs beyond a field's name and type is
# said by the field's metadata:
# - INSTANT on an optional datetime: a compiled class reports every `X | None` hint as `type`,
#   so the type is said again where the hint alone would be lost (a test holds them together);
# - NOT_IN_HISTORY on what only delivery reads: a contact's history, as a tick loads it for the
#   engine, comes without it (None).
INSTANT: Final = MappingProxyType({"type": datetime})
NOT_IN_HISTORY: Final = MappingProxyType({"history": False})

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
    # When `position` runs (or a wait_for times out).
    due_at: datetime | None = field(metadata=INSTANT)
    outcome: Outcome = Outcome.ACTIVE
    ended_at: datetime | None = field(default=None, metadata=INSTANT)
    reason: str | None = None
    variant: str | None = None  # split arm taken, carried onto later messages
    waiting_since: datetime | None = field(default=None, metadata=INSTANT)  # parked at a wait_for
    deferred_from: datetime | None = field(default=None, metadata=INSTANT)  # first time due
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
# __init__ makes one object.__setattr__ per field, and every message of a tick or a
# simulation makes one (bench/RESULTS.md).
@dataclass(slots=True, unsafe_hash=True, init=False)
class Message:
    """One send decision. `status` sent means handed to delivery; skipped carries a reason.

    `key`, the idempotency key (SPEC §5), is a SHA-256 of the message's contact, sequence,
    enrollment and step: made when first read (delivery, the store), not for every decision
    (a simulation reads none). `_key` None: not made yet.
    Derived from compared fields, it takes no part in equality or the hash itself.
    `dataclasses.replace` copies `_key` as it is: pass `_key=None` when changing a field the
    key is made of.

    These fields are the message's only declaration (MESSAGE_FIELDS below): the wire, the
    ledger's rows, records and outbox lines follow them in this order. A new field is added
    here (and to __init__), as a ledger column (store/migrations.py), and where it is used."""

    # First: records and outbox lines begin with the key (the outbox index reads it there).
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
    deferred_from: datetime | None = field(default=None, metadata=INSTANT)
    deferred_by: str | None = None
    variant: str | None = None
    subject: str | None = field(default=None, metadata=NOT_IN_HISTORY)
    text: str | None = field(default=None, metadata=NOT_IN_HISTORY)
    html: str | None = field(default=None, metadata=NOT_IN_HISTORY)
    to: str | None = field(default=None, metadata=NOT_IN_HISTORY)
    unsubscribe_url: str | None = field(default=None, metadata=NOT_IN_HISTORY)

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

    checked_at: datetime | None = field(default=None, metadata=INSTANT)
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
    skip_to: datetime | None = field(metadata=INSTANT)

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
    # Everything up to and including this time is processed.
    cursor: datetime | None = field(default=None, metadata=INSTANT)
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
    next_due: datetime | None = field(default=None, metadata=INSTANT)
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


@dataclass(frozen=True, slots=True)
class SerialField:
    """A model field as serializers see it (`serial_fields`)."""

    name: str  # the attribute, and the constructor's parameter
    label: str  # its name outside: records, outbox lines, ledger columns (`key` for `_key`)
    # Without None, and without parameters (list for list[Event]); `object` where a compiled
    # class forgot it (an optional field other than an INSTANT: serializers pass it as it is).
    type: type
    history: bool  # False: a contact's history, as the engine loads it, may leave it None


def serial_fields(cls: type) -> tuple[SerialField, ...]:
    """`cls`'s fields in declaration order, as serializers see them."""
    hints = get_type_hints(cls)
    out = []
    for f in fields(cls):
        hint = f.metadata.get("type") or hints[f.name]
        if get_origin(hint) in (Union, UnionType):
            kinds = [k for k in get_args(hint) if k is not NoneType]
            hint = kinds[0] if len(kinds) == 1 else object
        hint = get_origin(hint) or hint
        kind = object if hint is type else hint  # compiled: `X | None` reads as `type`
        out.append(SerialField(f.name, f.name.lstrip("_"), kind, f.metadata.get("history", True)))
    return tuple(out)


MESSAGE_FIELDS: Final = serial_fields(Message)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)


class Flat:
    """A model class to and from its flat form: its field values in declaration order, UTC
    instants as integer microseconds since the epoch and enum members as their values. The
    one way model objects are pickled (and deep-copied) and what engine.wire marshals: plain
    values cost a fraction of pickling datetimes and enums one by one."""

    def __init__(self, cls: type) -> None:
        declared = serial_fields(cls)
        self.cls = cls
        self.values = attrgetter(*(f.name for f in declared))
        self.instants = tuple(i for i, f in enumerate(declared) if f.type is datetime)
        self.enums = tuple(
            (i, {m.value: m for m in f.type})  # type: ignore[attr-defined]
            for i, f in enumerate(declared)
            if isinstance(f.type, type) and issubclass(f.type, Enum)
        )

    def dump(self, obj: object) -> tuple[Any, ...]:
        values = list(self.values(obj))
        for i in self.instants:
            t = values[i]
            # Only UTC instants (the engine's) are flattened: any other comes back as it was.
            if t is not None and t.tzinfo is UTC:
                values[i] = (t - _EPOCH) // _MICRO
        for i, _ in self.enums:
            if values[i] is not None:
                values[i] = values[i].value
        return tuple(values)

    def load(self, flat: tuple[Any, ...], seen: dict[int, datetime] | None = None) -> Any:
        """The object `flat` stands for. `seen`: instants already made in one batch (a
        message's time is often its enrollment's, and a datetime costs more to make than to
        look up)."""
        values = list(flat)
        for i in self.instants:
            us = values[i]
            if type(us) is int:
                t = None if seen is None else seen.get(us)
                if t is None:
                    t = _EPOCH + timedelta(microseconds=us)
                    if seen is not None:
                        seen[us] = t
                values[i] = t
        for i, members in self.enums:
            if values[i] is not None:
                values[i] = members[values[i]]
        return self.cls(*values)


_FLAT: Final[dict[type, Flat]] = {}


def _rebuild(cls: type, flat: tuple[Any, ...]) -> object:
    return _FLAT[cls].load(flat)


def _pickled_flat(cls: type) -> None:
    """Pickle and copy as `_rebuild(cls, flat)`: also the only way once compiled
    (engine.native), as a compiled class with its own __init__ cannot be made without its
    arguments (`plan` deep-copies a ContactState)."""
    flat = _FLAT[cls] = Flat(cls)
    dump = flat.dump

    def reduce(self: object) -> tuple[Any, tuple[type, tuple[Any, ...]]]:
        return _rebuild, (cls, dump(self))

    cls.__reduce__ = reduce  # type: ignore[method-assign,assignment]


for _cls in (
    Contact, Event, Enrollment, Message, Decision, TriggerMark, ContactState, StepResult,
    SegmentHorizon,
):  # fmt: skip
    _pickled_flat(_cls)
