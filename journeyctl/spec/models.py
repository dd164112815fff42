"""The file formats of SPEC §2 as strict, frozen pydantic models.

Models say what a file *may* contain; cross-references (channels exist, ids unique, templates
render) are checked in `spec.checks` where locations and the whole project are known.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from journeyctl.spec.durations import Duration
from journeyctl.spec.envref import EnvOr, EnvRef

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FieldType = Literal["string", "int", "float", "bool", "date", "datetime"]
# An event property may also be a list (CSV: items separated by `|`, or a JSON array).
EventFieldType = Literal["string", "int", "float", "bool", "date", "datetime", "list"]
Medium = Literal["email", "sms", "push", "chat", "other"]
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _clock(value: Any) -> Any:
    if isinstance(value, str) and not _CLOCK.match(value):
        raise ValueError(f'{value!r} is not a time of day; write it as HH:MM, e.g. "09:00"')
    return value


# "HH:MM" local time of day. YAML keeps it a string (see yamlsrc), pydantic makes it a time.
ClockTime = Annotated[time, Field(json_schema_extra={"pattern": _CLOCK.pattern})]


def _check_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r}; use an IANA name like Asia/Seoul") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]
Expression = Annotated[str, Field(min_length=1, description="A sandboxed Jinja expression")]
Identifier = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="letters, digits, _ . -")
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ClockFields(Strict):
    @model_validator(mode="before")
    @classmethod
    def _clock_strings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("start", "end", "until", "at"):
                if key in data:
                    _clock(data[key])
        return data


def _by_shape(mapping_tag: str, string_tag: str, literals: tuple[str, ...] = ()) -> Any:
    """Pick a union member by the YAML shape, so users see one error, not one per member."""

    def pick(value: Any) -> str:
        if isinstance(value, dict | BaseModel):
            return mapping_tag
        if isinstance(value, str) and value in literals:
            return "literal"
        return string_tag

    return pick


# --- journey.yaml -------------------------------------------------------------------------


class QuietHours(_ClockFields):
    start: ClockTime
    end: ClockTime


class FrequencyCap(Strict):
    max: int = Field(ge=1)
    per: Duration


class Sender(Strict):
    """Who sends: required by kr (name, contact) and us (physical address) compliance."""

    name: str | None = None
    contact: str | None = None
    address: str | None = None
    opt_out_phone: str | None = Field(None, description="free opt-out number for SMS (kr: 080)")


class ContactsConfig(Strict):
    fields: dict[str, FieldType] = Field(default_factory=dict)
    # bool column holding the separate consent to ad SMS/push at night (kr: 21:00-08:00)
    night_consent: str = "night_consent"


class LatePolicy(Strict):
    max: LateMax = Duration(days=1)


class EventsConfig(Strict):
    max_age: Duration = Duration(days=1)
    fields: dict[str, dict[str, EventFieldType]] = Field(
        default_factory=dict,
        description="per event name, its properties' types: templates and conditions of a "
        "sequence the event triggers read them as event.NAME "
        "(e.g. {cart_abandoned: {product: string, items: list}})",
    )


class ReportThresholds(Strict):
    open_rate_min: float = 0.20
    click_rate_min: float = 0.02
    unsubscribe_rate_max: float = 0.005
    min_recipients: int = 100
    alpha: float = 0.05


# Channel settings that are not plain strings may be `${NAME}` too (SPEC §2): EnvOr keeps the
# reference (an EnvRef) until channels/registry.py builds the channel. `type` and `medium` may
# not: the engine reads them without the environment (simulate, scheduling rules).
EnvInt = Annotated[int | EnvRef, EnvOr(int)]
EnvFloat = Annotated[float | EnvRef, EnvOr(float)]
EnvBool = Annotated[bool | EnvRef, EnvOr(StrictBool)]
Rate = Annotated[
    str | EnvRef,
    EnvOr(Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)?/(s|m|h)$")], text=True),
]


class Track(Strict):
    """`track:` on an email channel: the listener's open pixel and click redirects in HTML
    parts (journeyctl.engine.links). `consent`: a bool contact field; contacts whose value
    is not true are not tracked (required under compliance eu)."""

    opens: bool = False
    clicks: bool = False
    consent: str | None = None


class HttpSettings(Strict):
    """`http:` in journey.yaml: where the listener (`serve --http`) is reachable from
    outside. With `public_url`, unsubscribe links point at it (`{public_url}/u/{token}`)."""

    public_url: str | None = Field(None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    language: Literal["ko", "en"] | None = None  # the unsubscribe page's first language


class SmtpChannel(Strict):
    type: Literal["smtp"]
    host: str
    port: EnvInt = 587
    starttls: EnvBool = False
    ssl: EnvBool = False
    username: str | None = None
    password: str | None = None
    from_: str = Field(alias="from")
    reply_to: str | None = None
    unsubscribe_url: str | None = None
    unsubscribe_secret: str | None = None
    timeout: EnvFloat = 30.0
    rate: Rate | None = None
    track: Track | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def medium(self) -> Medium:
        return "email"


class WebhookChannel(Strict):
    type: Literal["webhook"]
    url: str
    secret: str | None = None
    medium: Medium = "other"
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: EnvFloat = 10.0
    rate: Rate | None = None


class FileChannel(Strict):
    type: Literal["file"]
    path: str = "outbox/"
    medium: Medium = "email"
    rate: Rate | None = None
    track: Track | None = None


ChannelConfig = Annotated[SmtpChannel | WebhookChannel | FileChannel, Field(discriminator="type")]


def _default_channels() -> dict[str, ChannelConfig]:
    return {"outbox": FileChannel(type="file")}


class ProjectSettings(Strict):
    """journey.yaml: every key has a default."""

    timezone: TimeZoneName = "UTC"
    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None
    compliance: list[Literal["kr", "us", "eu"]] = Field(default_factory=list)
    sender: Sender = Field(default_factory=Sender)
    contacts: ContactsConfig = Field(default_factory=ContactsConfig)
    channels: dict[Identifier, ChannelConfig] = Field(default_factory=_default_channels)
    late: LatePolicy = Field(default_factory=LatePolicy)
    events: EventsConfig = Field(default_factory=EventsConfig)
    report: ReportThresholds = Field(default_factory=ReportThresholds)
    # one-click unsubscribe link for marketing messages; {{ token }} is an HMAC of the contact id
    unsubscribe_url: str = "https://example.com/unsubscribe/{{ token }}"
    unsubscribe_secret: str | None = None  # "${ENV}" reference; keys the tokens
    http: HttpSettings | None = None  # the listener's public address (SPEC §6)

    @field_validator("channels")
    @classmethod
    def _some_channel(cls, v: dict[str, ChannelConfig]) -> dict[str, ChannelConfig]:
        # A send without `channel:` goes to the first one: with none, nothing could send.
        if not v:
            raise ValueError(
                "declare at least one channel (leave `channels:` out for the file outbox)"
            )
        return v


# --- sequences ------------------------------------------------------------------------------

KeyPath = tuple[str | int, ...]


class _Step(Strict):
    """A step kind is declared once: its model (a subclass of this, its key named as its tag in
    `Step`) and, when it holds steps, `nested`. The flow, the walks of the checks and the
    manifest (spec.manifest) read them from here."""

    def nested(self) -> dict[str, tuple[list[Step], KeyPath]]:
        """Each list of steps this step holds, by the name the flow links it under (`then`,
        an arm's name, `on_event`), with its key path below the step."""
        return {}


class SendWindow(_ClockFields):
    """Local hours (and weekdays) in which a step may send; outside it the send is deferred."""

    start: ClockTime
    end: ClockTime
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))


class Send(_Step):
    send: Identifier
    channel: Identifier | None = None  # None: the project's only/first channel
    subject: str | None = None
    template: str | None = None
    text_template: str | None = None
    body: str | None = None
    window: SendWindow | None = None
    on_cap: Literal["defer", "skip"] | None = None

    @property
    def id(self) -> str:
        return self.send

    @model_validator(mode="after")
    def _has_content(self) -> Send:
        if self.template is None and self.body is None:
            raise ValueError("a send step needs a `template` or a `body`")
        return self


class WaitUntil(_ClockFields):
    until: ClockTime
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))


WaitValue = Annotated[
    # the tag must not be a YAML key ("until"), or error locations would descend into it
    Annotated[Duration, Tag("duration")] | Annotated[WaitUntil, Tag("wait-until")],
    Discriminator(_by_shape("wait-until", "duration")),
]
Reentry = Annotated[
    Annotated[Literal["never", "always"], Tag("literal")] | Annotated[Duration, Tag("duration")],
    Discriminator(_by_shape("duration", "duration", ("never", "always"))),
]
LateMax = Annotated[
    Annotated[Literal["always"], Tag("literal")] | Annotated[Duration, Tag("duration")],
    Discriminator(_by_shape("duration", "duration", ("always",))),
]


class Wait(_Step):
    wait: WaitValue
    id: Identifier | None = None

    @field_validator("wait")
    @classmethod
    def _positive(cls, v: Duration | WaitUntil) -> Duration | WaitUntil:
        if isinstance(v, Duration) and v.is_negative:
            raise ValueError("a wait cannot be negative")
        return v


class BranchBody(Strict):
    if_: Expression = Field(alias="if")
    then: list[Step] = Field(default_factory=list)
    else_: list[Step] = Field(default_factory=list, alias="else")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Branch(_Step):
    branch: BranchBody
    id: Identifier | None = None

    def nested(self) -> dict[str, tuple[list[Step], KeyPath]]:
        return {
            "then": (self.branch.then, ("branch", "then")),
            "else": (self.branch.else_, ("branch", "else")),
        }


class SplitArm(Strict):
    weight: float = Field(gt=0)
    steps: list[Step] = Field(default_factory=list)


class Split(_Step):
    split: dict[Identifier, SplitArm]
    id: Identifier | None = None

    def nested(self) -> dict[str, tuple[list[Step], KeyPath]]:
        return {name: (arm.steps, ("split", name, "steps")) for name, arm in self.split.items()}

    @field_validator("split")
    @classmethod
    def _two_arms(cls, v: dict[str, SplitArm]) -> dict[str, SplitArm]:
        if len(v) < 2:
            raise ValueError(
                "a split needs at least two arms (a holdout arm is `control: {weight: 10}`)"
            )
        return v


class WaitForBody(Strict):
    event: Identifier
    timeout: Duration
    where: Expression | None = None


class WaitFor(_Step):
    wait_for: WaitForBody
    on_event: list[Step] = Field(default_factory=list)
    on_timeout: list[Step] = Field(default_factory=list)
    id: Identifier | None = None

    def nested(self) -> dict[str, tuple[list[Step], KeyPath]]:
        return {
            "on_event": (self.on_event, ("on_event",)),
            "on_timeout": (self.on_timeout, ("on_timeout",)),
        }


class Exit(_Step):
    exit: Identifier
    id: Identifier | None = None


# The step kinds: one line each. The tag is the step's key in YAML (and its kind's name).
_STEP_UNION = (
    Annotated[Send, Tag("send")]
    | Annotated[Wait, Tag("wait")]
    | Annotated[Branch, Tag("branch")]
    | Annotated[Split, Tag("split")]
    | Annotated[WaitFor, Tag("wait_for")]
    | Annotated[Exit, Tag("exit")]
)
STEP_KINDS: tuple[str, ...] = tuple(
    meta.tag for member in get_args(_STEP_UNION) for meta in member.__metadata__
)


def step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kinds = [k for k in STEP_KINDS if k in value]
        return kinds[0] if len(kinds) == 1 else None
    if isinstance(value, BaseModel):
        return next((k for k in STEP_KINDS if hasattr(value, k)), None)
    return None


Step = Annotated[
    _STEP_UNION,
    Discriminator(
        step_kind,
        custom_error_type="unknown-step",
        custom_error_message=f"a step needs exactly one of: {', '.join(STEP_KINDS)}",
    ),
]


class EventTrigger(Strict):
    event: Identifier
    where: Expression | None = None
    max_age: Duration | None = None  # overrides journey.yaml events.max_age


class SegmentTrigger(Strict):
    segment: Expression
    check: str = "0 * * * *"
    existing: Literal["enroll", "skip"] = Field(
        "enroll",
        description="skip: contacts who already match when the sequence first runs do not "
        "enter; only those who begin to match later do (enroll: everyone who matches)",
    )


class DateSpec(_ClockFields):
    field: str
    every: str = Field("year", pattern=r"^(year|\d+y)$")
    at: ClockTime = time(9, 0)
    offset: Duration = Duration()

    @property
    def every_years(self) -> int:
        return 1 if self.every == "year" else int(self.every[:-1])


class DateTrigger(Strict):
    date: DateSpec
    check: str = "0 * * * *"


def trigger_kind(value: Any) -> str | None:
    keys = ("event", "segment", "date")
    if isinstance(value, dict):
        kinds = [k for k in keys if k in value]
        return kinds[0] if len(kinds) == 1 else None
    if isinstance(value, BaseModel):
        return next((k for k in keys if hasattr(value, k)), None)
    return None


Trigger = Annotated[
    Annotated[EventTrigger, Tag("event")]
    | Annotated[SegmentTrigger, Tag("segment")]
    | Annotated[DateTrigger, Tag("date")],
    Discriminator(
        trigger_kind,
        custom_error_type="bad-trigger",
        custom_error_message="a trigger needs exactly one of: event, segment, date",
    ),
]


class Goal(Strict):
    event: Identifier
    within: Duration | None = None


class Sequence(Strict):
    sequence: Identifier | None = None  # defaults to the file name
    description: str | None = None
    trigger: Trigger
    audience: Expression | None = None
    reentry: Reentry = "never"
    exit_on: list[Identifier] = Field(default_factory=list)
    goal: Goal | None = None
    ad: StrictBool = True
    transactional: StrictBool = False
    late: LatePolicy | None = None
    window: SendWindow | None = None
    on_cap: Literal["defer", "skip"] = "defer"
    migrate: dict[Identifier, Identifier] = Field(default_factory=dict)
    unless_in: list[Identifier] = Field(
        default_factory=list,
        description="no entry while the contact is active in any of these sequences",
    )
    paused: StrictBool = Field(
        False,
        description="no new entries; contacts already in hold their place until it is removed "
        "(sends that came due meanwhile then follow `late`)",
    )
    steps: list[Step] = Field(min_length=1)

    @field_validator("transactional")
    @classmethod
    def _transactional_is_not_ad(cls, v: bool, info: ValidationInfo) -> bool:
        # a field validator (not a model one) so the error points at `transactional:`
        if v and info.data.get("ad", True):
            raise ValueError("a transactional sequence must say `ad: false`")
        return v

    @property
    def id(self) -> str:
        assert self.sequence is not None, "loader fills the id from the file name"
        return self.sequence

    @property
    def is_marketing(self) -> bool:
        return not self.transactional


BranchBody.model_rebuild()
SplitArm.model_rebuild()
WaitFor.model_rebuild()
Sequence.model_rebuild()
