"""Generate the example data in examples/: deterministic, so the files can be regenerated exactly.

    python scripts/gen_examples.py            # writes examples/*.csv and examples/app-push/*.csv
    python scripts/gen_examples.py --check    # exit 1 if the committed files differ

The shop data (examples/contacts.csv, events.csv) fits the stock library in sequences/:
contacts are the customer list as of 2026-11-01 plus the people who sign up during November;
events run from 2026-10-15 to 2026-11-30 with plausible causality (a purchase follows a cart,
shipping 1-2 days after a purchase, delivery 1-3 days after shipping, opens and clicks after the
message they answer). The headline demo:

    journeyctl simulate sequences --contacts examples/contacts.csv \
        --events examples/events.csv --start 2026-11-01 --days 30

Phone numbers use the unassigned 010-0xxx-xxxx block and e-mail addresses the reserved
example.com/.net/.org domains, so no real person can be messaged by accident.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import random  # noqa: TID251  (a data generator, not the engine: seeded random.Random below)
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SEED = 20261101

KST = ZoneInfo("Asia/Seoul")
WINDOW_START = datetime(2026, 10, 15, tzinfo=KST)
SNAPSHOT = datetime(2026, 11, 1, tzinfo=KST)  # contacts.csv is the list as of this moment
WINDOW_END = datetime(2026, 12, 1, tzinfo=KST)  # exclusive: events up to 2026-11-30 23:59
N_CONTACTS = 320

CONTACT_COLUMNS = [
    "id", "email", "phone", "name", "timezone", "locale", "signup_at", "birthday", "orders",
    "last_purchase_at", "last_active_at", "consent_email", "consent_sms", "night_consent",
    "consent_at", "vip", "city", "country",
]  # fmt: skip
EVENT_COLUMNS = ["contact_id", "event", "at", "step", "order_id", "amount", "product", "items"]

# --- names and places -------------------------------------------------------------------------

FAMILY = [
    ("김", "kim", 21), ("이", "lee", 15), ("박", "park", 8), ("최", "choi", 5), ("정", "jung", 5),
    ("강", "kang", 2), ("조", "cho", 2), ("윤", "yoon", 2), ("장", "jang", 2), ("임", "lim", 2),
    ("한", "han", 1), ("오", "oh", 1), ("서", "seo", 1), ("신", "shin", 1), ("권", "kwon", 1),
    ("황", "hwang", 1), ("안", "ahn", 1), ("송", "song", 1), ("류", "ryu", 1), ("홍", "hong", 1),
    ("전", "jeon", 1), ("고", "ko", 1), ("문", "moon", 1), ("양", "yang", 1), ("배", "bae", 1),
]  # fmt: skip
GIVEN = [
    ("민준", "minjun"), ("서준", "seojun"), ("도윤", "doyun"), ("예준", "yejun"), ("시우", "siwoo"),
    ("하준", "hajun"), ("지호", "jiho"), ("주원", "juwon"), ("지후", "jihoo"), ("준우", "junwoo"),
    ("현우", "hyunwoo"), ("우진", "woojin"), ("선우", "sunwoo"), ("건우", "gunwoo"), ("은우", "eunwoo"),
    ("서연", "seoyeon"), ("서윤", "seoyun"), ("지우", "jiwoo"), ("서현", "seohyun"), ("민서", "minseo"),
    ("하은", "haeun"), ("하윤", "hayun"), ("윤서", "yunseo"), ("지유", "jiyu"), ("지민", "jimin"),
    ("채원", "chaewon"), ("수아", "sua"), ("지아", "jia"), ("은서", "eunseo"), ("다은", "daeun"),
    ("예은", "yeeun"), ("수빈", "subin"), ("민지", "minji"), ("지영", "jiyoung"), ("현정", "hyunjung"),
    ("은정", "eunjung"), ("혜진", "hyejin"), ("수진", "sujin"), ("정훈", "junghoon"), ("성민", "sungmin"),
    ("영수", "youngsoo"), ("미경", "mikyung"), ("상현", "sanghyun"), ("동현", "donghyun"), ("재희", "jaehee"),
    ("유진", "yujin"), ("소영", "soyoung"), ("태현", "taehyun"), ("나연", "nayeon"), ("경민", "kyungmin"),
]  # fmt: skip
KR_CITIES = [
    ("서울", 40), ("부산", 7), ("인천", 6), ("대구", 5), ("대전", 4), ("광주", 3), ("수원", 5),
    ("성남", 4), ("고양", 4), ("용인", 4), ("창원", 2), ("청주", 2), ("전주", 2), ("제주", 2),
    ("울산", 2), ("세종", 2),
]  # fmt: skip
EN_FIRST = [
    "James", "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sophia", "Oliver",
    "Isabella", "Daniel", "Charlotte", "Henry", "Amelia", "Jack", "Harper", "Leo", "Emily", "Max",
    "Hannah", "Felix", "Lena", "Yuki", "Kenji", "Grace", "Samuel", "Chloe", "Ryan", "Nora", "David",
]  # fmt: skip
EN_LAST = [
    "Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Walker", "Hall",
    "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Carter", "Mitchell",
    "Schmidt", "Fischer", "Weber", "Tanaka", "Sato", "Evans", "Hughes", "Lewis", "Reed", "Cole",
]  # fmt: skip


@dataclass(frozen=True)
class Region:
    tz: str
    country: str
    cities: tuple[str, ...]
    phone: str  # format with {n}: fictional ranges (555-01xx, Ofcom drama numbers, ...)
    weight: int


REGIONS = [
    Region("America/New_York", "US", ("New York", "Boston", "Philadelphia"), "+1-212-555-01{n:02d}", 8),
    Region("America/Los_Angeles", "US", ("Los Angeles", "San Francisco", "Seattle"), "+1-415-555-01{n:02d}", 5),
    Region("Europe/London", "GB", ("London", "Manchester", "Edinburgh"), "+44 20 7946 0{n:03d}", 5),
    Region("Europe/Berlin", "DE", ("Berlin", "Munich", "Hamburg"), "+49 30 5555 0{n:03d}", 4),
    Region("Asia/Tokyo", "JP", ("Tokyo", "Osaka", "Fukuoka"), "+81 3-5555-0{n:03d}", 4),
    Region("Australia/Sydney", "AU", ("Sydney", "Melbourne"), "+61 2 5550 0{n:03d}", 2),
    Region("Asia/Singapore", "SG", ("Singapore",), "+65 6555 0{n:03d}", 2),
    Region("Europe/Paris", "FR", ("Paris", "Lyon"), "+33 1 99 00 {n:02d} 00", 2),
]  # fmt: skip
BAD_TIMEZONES = ["", "", "", "KST", "Seoul", "Asia/Seol", "GMT+9"]
DOMAINS = ["example.com", "example.net", "example.org"]


# --- helpers ---------------------------------------------------------------------------------


def weighted(rng: random.Random, items: list[tuple[str, int]]) -> str:
    return rng.choices([i[0] for i in items], weights=[i[1] for i in items])[0]


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A random instant in [start, end), to the minute."""
    span = int((end - start).total_seconds() // 60)
    return start + timedelta(minutes=rng.randrange(max(span, 1)))


def at_local(day: date, hour: int, minute: int, tz: ZoneInfo = KST) -> datetime:
    return datetime.combine(day, time(hour, minute), tz)


def iso(dt: datetime | None, tz: ZoneInfo | None = None) -> str:
    if dt is None:
        return ""
    return dt.astimezone(tz or KST).isoformat(timespec="seconds")


def zone_or_kst(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else KST
    except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
        return KST


def after_quiet_hours(dt: datetime, tz: ZoneInfo) -> datetime:
    """When a marketing email due at `dt` actually goes out (quiet hours 21:00-08:00 local)."""
    local = dt.astimezone(tz)
    if local.hour >= 21:
        return at_local(local.date() + timedelta(days=1), 8, 0, tz)
    if local.hour < 8:
        return at_local(local.date(), 8, 0, tz)
    return dt


# --- contacts --------------------------------------------------------------------------------


@dataclass
class Person:
    id: str
    email: str
    phone: str
    name: str
    timezone: str
    locale: str
    signup_at: datetime
    birthday: date | None
    orders: int
    last_purchase_at: datetime | None
    last_active_at: datetime
    consent_email: bool
    consent_sms: bool
    night_consent: bool
    consent_at: datetime | None
    vip: bool
    city: str
    country: str
    zone: ZoneInfo = field(default=KST)  # where their clock is (KST when the timezone is bad)

    def row(self) -> list[str]:
        def b(v: bool) -> str:
            return "true" if v else "false"

        z = self.zone
        return [
            self.id, self.email, self.phone, self.name, self.timezone, self.locale,
            iso(self.signup_at, z), self.birthday.isoformat() if self.birthday else "",
            str(self.orders), iso(self.last_purchase_at, z), iso(self.last_active_at, z),
            b(self.consent_email), b(self.consent_sms), b(self.night_consent),
            iso(self.consent_at, z), b(self.vip), self.city, self.country,
        ]  # fmt: skip


def make_people(rng: random.Random) -> list[Person]:
    people: list[Person] = []
    used_emails: set[str] = set()
    for i in range(1, N_CONTACTS + 1):
        international = rng.random() < 0.25
        if international:
            region = rng.choices(REGIONS, weights=[r.weight for r in REGIONS])[0]
            first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
            name = f"{first} {last}"
            local = rng.choice(
                [f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}"]
            )
            tz_name, locale, country = region.tz, "en", region.country
            city = rng.choice(region.cities)
            phone = region.phone.format(n=rng.randint(0, 99)) if rng.random() < 0.6 else ""
        else:
            fam, fam_rom = weighted(rng, [(f"{h}|{r}", w) for h, r, w in FAMILY]).split("|")
            given, given_rom = rng.choice(GIVEN)
            name = fam + given
            local = rng.choice(
                [
                    f"{given_rom}.{fam_rom}",
                    f"{fam_rom}{given_rom}{rng.randint(70, 99)}",
                    f"{given_rom}{rng.randint(1, 999)}",
                ]
            )
            tz_name, locale, country = "Asia/Seoul", "ko", "KR"
            city = weighted(rng, KR_CITIES)
            phone = (
                f"010-0{rng.randint(100, 999)}-{rng.randint(0, 9999):04d}"
                if rng.random() < 0.96
                else ""
            )
        email = f"{local.lower()}@{rng.choice(DOMAINS)}"
        while email in used_emails:
            email = f"{local.lower()}{rng.randint(2, 9)}@{rng.choice(DOMAINS)}"
        used_emails.add(email)
        if rng.random() < 0.03 and phone:
            email = ""  # phone-only customers (signed up at a pop-up store)
        if rng.random() < 0.03:
            tz_name = rng.choice(BAD_TIMEZONES)  # empty or unparseable: falls back to Asia/Seoul

        # 1 in 7 signs up inside the event window (and gets a `subscribed` event)
        if rng.random() < 1 / 7:
            signup = between(rng, WINDOW_START, WINDOW_END - timedelta(days=1))
        else:
            signup = between(rng, datetime(2023, 1, 1, tzinfo=KST), WINDOW_START)
        new = signup >= SNAPSHOT
        birthday = None
        if rng.random() < 0.9:
            birthday = date(rng.randint(1965, 2006), 1, 1) + timedelta(days=rng.randrange(365))
        orders = 0
        last_purchase = None
        if not new and signup < WINDOW_START and rng.random() < 0.65:
            orders = min(1 + int(rng.expovariate(0.45)), 24)
            last_purchase = between(rng, signup, WINDOW_START)
        # most customers were around in the last month; a third have gone quiet (win-back)
        floor = max(signup, last_purchase or signup)
        if rng.random() < 0.68:
            active = between(rng, max(floor, SNAPSHOT - timedelta(days=28)), SNAPSHOT)
        else:
            active = between(
                rng, floor, max(floor + timedelta(hours=1), SNAPSHOT - timedelta(days=31))
            )
        if new:
            active = signup
        consent_email = bool(email) and rng.random() < 0.82
        consent_sms = bool(phone) and rng.random() < (0.55 if not international else 0.2)
        night = consent_sms and rng.random() < 0.25
        consent_at = None
        if consent_email or consent_sms:
            consent_at = (
                signup
                if rng.random() < 0.7
                else between(rng, signup, max(signup, SNAPSHOT) + timedelta(hours=1))
            )
        people.append(
            Person(
                id=f"c{i:04d}",
                email=email,
                phone=phone,
                name=name,
                timezone=tz_name,
                locale=locale,
                signup_at=signup,
                birthday=birthday,
                orders=orders,
                last_purchase_at=last_purchase,
                last_active_at=active,
                consent_email=consent_email,
                consent_sms=consent_sms,
                night_consent=night,
                consent_at=consent_at,
                vip=orders >= 5,
                city=city,
                country=country,
                zone=zone_or_kst(tz_name),
            )
        )
    _plant_cases(rng, people)
    return people


def _plant_cases(rng: random.Random, people: list[Person]) -> None:
    """Make sure the cases the demo should show are there, whatever the draws above gave."""
    korean_old = [
        p for p in people if p.locale == "ko" and p.signup_at < datetime(2024, 6, 1, tzinfo=KST)
    ]
    # leap-day birthdays: 28 February in 2026
    korean_old[0].birthday = date(1996, 2, 29)
    korean_old[1].birthday = date(2000, 2, 29)
    # November birthdays: the birthday sequence fires inside the demo month
    for p in rng.sample(people[10:], 14):
        if p.birthday is not None:
            p.birthday = p.birthday.replace(month=11, day=rng.randint(1, 30))
    # consent given about 2 years before November 2026: consent-renewal (-30d) fires in November
    renewal = [p for p in korean_old[2:] if p.consent_email or p.consent_sms]
    for p in rng.sample(renewal, 16):
        p.consent_at = between(
            rng, datetime(2024, 11, 28, tzinfo=KST), datetime(2025, 1, 3, tzinfo=KST)
        )
        p.signup_at = min(p.signup_at, p.consent_at)
    # sign-up anniversaries in November: privacy-notice fires
    for p in rng.sample(korean_old[20:], 10):
        year = rng.choice([2023, 2024, 2025])
        p.signup_at = p.signup_at.replace(year=year, month=11, day=rng.randint(1, 28))
        if p.consent_at is not None and p.consent_at < p.signup_at:
            p.consent_at = p.signup_at
        if p.last_purchase_at is not None and p.last_purchase_at < p.signup_at:
            p.last_purchase_at = p.signup_at + timedelta(days=3)
        p.last_active_at = max(p.last_active_at, p.last_purchase_at or p.signup_at)


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Ev:
    at: datetime
    contact_id: str
    event: str
    step: str = ""
    order_id: str = ""
    amount: str = ""
    product: str = ""  # cart_abandoned: the first item left in the cart
    items: str = ""  # cart_abandoned: every item, separated by | (journey.yaml declares a list)

    def row(self) -> list[str]:
        return [
            self.contact_id, self.event, iso(self.at), self.step, self.order_id, self.amount,
            self.product, self.items,
        ]  # fmt: skip


PRODUCTS = [
    "리넨 셔츠", "울 니트 가디건", "캐시미어 머플러", "코튼 양말 3팩", "데님 토트백", "가죽 카드지갑",
    "세라믹 머그컵", "핸드크림 세트", "리넨 앞치마", "향초 (무화과)", "스테인리스 텀블러", "니트 비니",
]  # fmt: skip


def cart_items(contact_id: str, at: datetime) -> list[str]:
    """What a cart held: 1-3 products, drawn from a hash so the seeded stream (and so every
    other row of the examples) stays as it was before carts had contents."""
    digest = hashlib.sha256(f"{contact_id}|{at.isoformat()}".encode()).digest()
    n = 1 + digest[0] % 3
    picks: list[str] = []
    for b in digest[1:]:
        name = PRODUCTS[b % len(PRODUCTS)]
        if name not in picks:
            picks.append(name)
        if len(picks) == n:
            break
    return picks


PRICES = [8900, 12900, 15900, 19800, 24900, 29000, 34900, 39000, 45000, 59000, 79000, 129000]


def shop_hour(rng: random.Random) -> tuple[int, int]:
    """When people shop: lunch, evening peak, some late night."""
    hour = rng.choices(
        range(24),
        weights=[2, 1, 1, 0, 0, 0, 1, 2, 3, 4, 4, 5, 8, 6, 4, 4, 5, 5, 6, 8, 10, 11, 10, 6],
    )[0]
    return hour, rng.randrange(60)


def make_commerce(rng: random.Random, people: list[Person]) -> list[Ev]:
    events: list[Ev] = []
    by_id = {p.id: p for p in people}
    for p in people:
        if p.signup_at >= WINDOW_START:
            events.append(Ev(p.signup_at, p.id, "subscribed"))

    def weight(p: Person) -> float:
        recent = p.last_active_at >= SNAPSHOT - timedelta(days=30)
        return (3.0 if recent else 0.3) * (2.0 if p.orders >= 3 else 1.0)

    order_no = 0
    day = WINDOW_START.date()
    while day < WINDOW_END.date():
        for kind in ["cart"] * rng.randint(5, 11) + ["direct"] * rng.randint(1, 3):
            h, m = shop_hour(rng)
            at = at_local(day, h, m)
            pool = [p for p in people if p.signup_at < at]
            p = rng.choices(pool, weights=[weight(x) for x in pool])[0]
            if kind == "cart":
                items = cart_items(p.id, at)
                events.append(
                    Ev(at, p.id, "cart_abandoned", product=items[0], items="|".join(items))
                )
                if rng.random() > 0.32:
                    continue
                # bought after all: some within the hour, most after a reminder or the coupon
                at = at + rng.choice(
                    [
                        timedelta(minutes=rng.randint(10, 55)),
                        timedelta(hours=rng.randint(2, 20)),
                        timedelta(hours=rng.randint(25, 60)),
                    ]
                )
            order_no += 1
            order = f"HM{at.astimezone(KST):%y%m%d}-{order_no:04d}"
            amount = sum(rng.sample(PRICES, rng.choice([1, 1, 1, 2, 2, 3])))
            events.append(Ev(at, p.id, "purchased", order_id=order, amount=str(amount)))
            events.extend(_fulfilment(rng, at, p.id, order))
        day += timedelta(days=1)
    # VIP demo: a few customers buy a second time in November
    for p in rng.sample([p for p in people if p.orders == 1 and p.consent_email], 6):
        at = at_local(date(2026, 11, rng.randint(3, 25)), *shop_hour(rng))
        order_no += 1
        order = f"HM{at:%y%m%d}-{order_no:04d}"
        events.append(Ev(at, p.id, "purchased", order_id=order, amount=str(rng.choice(PRICES))))
        events.extend(_fulfilment(rng, at, p.id, order))
    return [e for e in events if e.at < WINDOW_END and e.contact_id in by_id]


def _fulfilment(rng: random.Random, bought: datetime, contact_id: str, order: str) -> list[Ev]:
    """shipped 1-2 business days later (a few late: the delay notice), delivered 1-3 days after."""
    delay = rng.randint(6, 8) if rng.random() < 0.05 else rng.randint(1, 2)
    ship_day = bought.astimezone(KST).date() + timedelta(days=delay)
    while ship_day.weekday() == 6:  # no shipping on Sundays
        ship_day += timedelta(days=1)
    shipped = at_local(ship_day, rng.randint(10, 17), rng.randrange(60))
    out = [Ev(shipped, contact_id, "shipped", order_id=order)]
    if rng.random() < 0.97:  # a few parcels are lost in the window: not-delivered exit
        delivered_day = ship_day + timedelta(days=rng.randint(1, 3))
        out.append(
            Ev(
                at_local(delivered_day, rng.randint(9, 20), rng.randrange(60)),
                contact_id,
                "delivered",
                order_id=order,
            )
        )
    return out


def apply_history(people: list[Person], events: list[Ev]) -> None:
    """Events before the snapshot are already reflected in the contact list (orders, activity)."""
    by_id = {p.id: p for p in people}
    for e in sorted(events):
        if e.at >= SNAPSHOT:
            continue
        p = by_id[e.contact_id]
        if e.event == "purchased":
            p.orders += 1
            p.last_purchase_at = e.at
            p.vip = p.orders >= 5
        if e.event in ("purchased", "cart_abandoned", "subscribed"):
            p.last_active_at = max(p.last_active_at, e.at)


def make_engagement(rng: random.Random, people: list[Person], commerce: list[Ev]) -> list[Ev]:
    """Opens and clicks answering the messages the stock sequences send, plus unsubscribes and
    bounces. Times follow the message they answer (sent after quiet hours)."""
    events: list[Ev] = []
    by_id = {p.id: p for p in people}
    reachable = {p.id for p in people if p.email and p.consent_email}

    def respond(p: Person, step: str, sent: datetime, open_p: float, click_p: float) -> None:
        if sent >= WINDOW_END or rng.random() >= open_p:
            return
        opened = sent + timedelta(minutes=int(rng.expovariate(1 / 300)) + 2)
        events.append(Ev(opened, p.id, "opened", step=step))
        if rng.random() < click_p:
            events.append(
                Ev(
                    opened + timedelta(minutes=rng.randint(0, 4), seconds=30),
                    p.id,
                    "clicked",
                    step=step,
                )
            )

    # welcome: immediately, +2d, +4d
    for e in commerce:
        if e.event != "subscribed" or e.contact_id not in reachable:
            continue
        p = by_id[e.contact_id]
        for step, days, o, c in (
            ("hello", 0, 0.6, 0.3),
            ("popular-picks", 2, 0.45, 0.2),
            ("subscriber-picks", 4, 0.4, 0.2),
        ):
            respond(p, step, after_quiet_hours(e.at + timedelta(days=days), p.zone), o, c)
    # cart reminder after 1 hour
    for e in commerce:
        if e.event == "cart_abandoned" and e.contact_id in reachable:
            p = by_id[e.contact_id]
            respond(
                p, "cart-nudge", after_quiet_hours(e.at + timedelta(hours=1), p.zone), 0.45, 0.3
            )
    # win-back: the daily 09:00 check picks up everyone 30+ days quiet
    for p in people:
        if p.id not in reachable or p.signup_at >= SNAPSHOT:
            continue
        first_day = max(
            p.last_active_at.astimezone(KST).date() + timedelta(days=30), SNAPSHOT.date()
        )
        if first_day >= WINDOW_END.date():
            continue
        sent = at_local(first_day, 9, 0)
        before = len(events)
        respond(p, "we-miss-you", sent, 0.3, 0.4)
        clicked = any(e.event == "clicked" for e in events[before:])
        if clicked and rng.random() < 0.35:  # came back and bought: the goal
            at = sent + timedelta(hours=rng.randint(3, 60))
            order = f"HM{at:%y%m%d}-W{p.id[1:]}"
            events.append(Ev(at, p.id, "purchased", order_id=order, amount=str(rng.choice(PRICES))))
            events.extend(_fulfilment(rng, at, p.id, order))
        elif not clicked and rng.random() < 0.04:  # or asked us to stop
            events.append(Ev(sent + timedelta(hours=rng.randint(1, 30)), p.id, "unsubscribed"))
    # a few unsubscribes from the welcome series, and hard bounces on stale addresses
    subscribed = [e for e in commerce if e.event == "subscribed" and e.contact_id in reachable]
    for e in rng.sample(subscribed, 4):
        events.append(
            Ev(
                e.at + timedelta(days=rng.randint(2, 5), hours=rng.randint(1, 10)),
                e.contact_id,
                "unsubscribed",
            )
        )
    stale = [
        p for p in people if p.id in reachable and p.last_active_at < SNAPSHOT - timedelta(days=200)
    ]
    for p in rng.sample(stale, min(3, len(stale))):
        events.append(Ev(at_local(date(2026, 11, 1), 9, 1), p.id, "bounced", step="we-miss-you"))
    return [e for e in events if e.at < WINDOW_END]


# --- the app-push example ----------------------------------------------------------------------

APP_COLUMNS = [
    "id", "email", "phone", "name", "timezone", "locale", "platform", "push_token", "installed_at",
    "plan", "trial_ends_at", "consent_push", "night_consent", "consent_at", "streak_days",
    "last_workout_at", "fitness_goal",
]  # fmt: skip
FITNESS_GOALS = ["체중 감량", "근력 강화", "체력 향상", "꾸준한 습관", "스트레칭"]
FITNESS_GOALS_EN = ["lose weight", "build strength", "get fitter", "build a habit", "stretching"]


def make_app(rng: random.Random) -> tuple[list[list[str]], list[Ev]]:
    rows: list[list[str]] = []
    events: list[Ev] = []
    for i in range(1, 151):
        en = rng.random() < 0.15
        if en:
            name = f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"
            tz_name, locale = (
                rng.choice(["America/New_York", "Europe/London", "Asia/Singapore"]),
                "en",
            )
            goal = rng.choice(FITNESS_GOALS_EN)
        else:
            fam = weighted(rng, [(h, w) for h, _, w in FAMILY])
            name = fam + rng.choice(GIVEN)[0]
            tz_name, locale = "Asia/Seoul", "ko"
            goal = rng.choice(FITNESS_GOALS)
        zone = ZoneInfo(tz_name)
        uid = f"u{i:04d}"
        platform = rng.choice(["ios", "android", "android"])
        token = f"{platform[:3]}-{rng.getrandbits(64):016x}" if rng.random() < 0.92 else ""
        # 40% install inside the window (onboarding runs for them); the rest are existing users
        if rng.random() < 0.4:
            installed = between(rng, WINDOW_START, WINDOW_END - timedelta(days=1))
        else:
            installed = between(rng, datetime(2025, 6, 1, tzinfo=KST), WINDOW_START)
        consent_push = bool(token) and rng.random() < 0.7
        night = consent_push and rng.random() < 0.2
        plan, trial_ends = "free", None
        u_events: list[Ev] = []
        trial = None
        if installed >= WINDOW_START:
            u_events.append(Ev(installed, uid, "app_installed"))
            if rng.random() < 0.65:
                done = installed + timedelta(minutes=int(rng.expovariate(1 / 600)) + 3)
                u_events.append(Ev(done, uid, "onboarding_completed"))
                if rng.random() < 0.5:
                    trial = done + timedelta(minutes=rng.randint(1, 30))
        elif rng.random() < 0.25:
            plan = "premium"
        elif rng.random() < 0.15:  # an existing free user tries premium
            trial = between(rng, WINDOW_START, WINDOW_END - timedelta(days=2))
        if trial is not None:
            u_events.append(Ev(trial, uid, "trial_started"))
            plan, trial_ends = "trial", trial + timedelta(days=7)
            if rng.random() < 0.4:
                paid = trial + timedelta(days=rng.randint(2, 6), hours=rng.randint(0, 12))
                u_events.append(Ev(paid, uid, "subscription_started"))
                plan = "premium"
        # workouts: habit strength varies; morning and evening sessions
        per_week = rng.choice([0, 0, 1, 1, 2, 3, 3, 4, 5])
        day = max(installed.astimezone(KST).date(), WINDOW_START.date())
        last_workout = None
        streak = 0
        while day < WINDOW_END.date():
            if rng.random() < per_week / 7:
                hour = rng.choice([6, 7, 7, 12, 18, 19, 20, 21, 22])
                at = at_local(day, hour, rng.randrange(60), zone)
                if at > installed:
                    u_events.append(Ev(at, uid, "workout_logged"))
                    if at < SNAPSHOT:
                        last_workout = at
                        streak += 1
            elif day < SNAPSHOT.date():
                streak = 0
            day += timedelta(days=1)
        if consent_push and rng.random() < 0.04:
            u_events.append(
                Ev(between(rng, max(installed, SNAPSHOT), WINDOW_END), uid, "unsubscribed")
            )
        events.extend(e for e in u_events if e.at < WINDOW_END)
        email = (
            f"user{i:04d}@example.{rng.choice(['com', 'net', 'org'])}" if rng.random() < 0.8 else ""
        )
        phone = (
            f"010-0{rng.randint(100, 999)}-{rng.randint(0, 9999):04d}"
            if not en and rng.random() < 0.5
            else ""
        )
        rows.append(
            [
                uid,
                email,
                phone,
                name,
                tz_name,
                locale,
                platform,
                token,
                iso(installed, zone),
                plan,
                iso(trial_ends, zone),
                "true" if consent_push else "false",
                "true" if night else "false",
                iso(installed, zone) if consent_push else "",
                str(streak),
                iso(last_workout, zone),
                goal,
            ]
        )
    return rows, events


# --- output ----------------------------------------------------------------------------------


def csv_text(header: list[str], rows: Iterable[list[str]], newline: str = "\n") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def generate() -> dict[Path, bytes]:
    rng = random.Random(SEED)
    people = make_people(rng)
    commerce = make_commerce(rng, people)
    apply_history(people, commerce)
    engagement = make_engagement(rng, people, commerce)
    events = sorted(commerce + engagement, key=lambda e: (e.at, e.contact_id, e.event))
    contacts = csv_text(CONTACT_COLUMNS, (p.row() for p in people))
    app_rows, app_events = make_app(random.Random(SEED + 1))
    return {
        EXAMPLES / "contacts.csv": contacts.encode("utf-8"),
        # what Excel in Korea saves: CP949, CRLF, no BOM
        EXAMPLES / "contacts-cp949.csv": csv_text(
            CONTACT_COLUMNS, (p.row() for p in people), "\r\n"
        ).encode("cp949"),
        EXAMPLES / "events.csv": csv_text(EVENT_COLUMNS, (e.row() for e in events)).encode("utf-8"),
        EXAMPLES / "app-push" / "contacts.csv": csv_text(APP_COLUMNS, app_rows).encode("utf-8"),
        EXAMPLES / "app-push" / "events.csv": csv_text(
            ["contact_id", "event", "at"],
            ([e.contact_id, e.event, iso(e.at)] for e in sorted(app_events)),
        ).encode("utf-8"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the files on disk differ")
    args = parser.parse_args(argv)
    files = generate()
    stale = [p for p, data in files.items() if not p.exists() or p.read_bytes() != data]
    if args.check:
        for p in stale:
            print(
                f"{p.relative_to(ROOT)} is out of date; run python scripts/gen_examples.py",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for p, data in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        rows = data.count(b"\n") - 1
        print(f"wrote {p.relative_to(ROOT)} ({rows} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
