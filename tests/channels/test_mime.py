"""mime.build_email: parsed back with the stdlib parser, headers and both parts checked."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeyctl.channels.mime import (
    Originator,
    build_email,
    check_header_value,
    html_to_text,
    message_id,
)
from journeyctl.engine.model import Message
from journeyctl.errors import PermanentChannelError

DATE = datetime(2025, 3, 4, 0, 30, tzinfo=UTC)
SENDER = Originator.parse("Brand <hello@example.com>")
BASE_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}

MessageFactory = Callable[..., Message]


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body_of(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content()).replace("\r\n", "\n")


def test_multipart_alternative_round_trips(message: MessageFactory) -> None:
    built = build_email(message(), SENDER, date=DATE)
    msg = parse(built.data)

    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["From"] == "Brand <hello@example.com>"
    assert msg["To"] == "ada@example.com"
    assert msg["Subject"] == "Welcome, Ada"
    assert msg["Date"] == "Tue, 04 Mar 2025 00:30:00 +0000"
    assert msg["Message-ID"] == "<c1=3Awelcome=3Ae1=3Ahello@example.com>"
    assert msg["MIME-Version"] == "1.0"
    assert body_of(msg, "plain") == "Hi Ada,\nwelcome aboard.\n"
    assert body_of(msg, "html") == "<p>Hi Ada,</p><p>welcome aboard.</p>"
    assert {k.lower() for k in msg} == BASE_HEADERS
    assert msg.defects == []
    assert built.recipient == "ada@example.com"
    assert built.message_id == msg["Message-ID"]


def test_wire_format_is_crlf_and_short_lines(message: MessageFactory) -> None:
    long_html = "<p>" + "긴 문장입니다 " * 400 + "</p>"
    data = build_email(message(html=long_html, text=None), SENDER, date=DATE).data
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert data.isascii()


def test_korean_subject_body_and_display_name(message: MessageFactory) -> None:
    sender = Originator.parse("브랜드 고객센터 <hello@example.com>", "답장 <help@example.com>")
    subject = "(광고) 김민지님, 10% 할인 쿠폰이 도착했어요 — 오늘 자정까지만!"
    text = "안녕하세요 김민지님,\n\n쿠폰 코드: WELCOME10\n"
    html = "<p>안녕하세요 <b>김민지</b>님</p>"
    msg = parse(build_email(message(subject=subject, text=text, html=html), sender, date=DATE).data)

    assert msg["Subject"] == subject
    assert msg["From"].addresses[0].display_name == "브랜드 고객센터"
    assert msg["From"].addresses[0].addr_spec == "hello@example.com"
    assert msg["Reply-To"].addresses[0].display_name == "답장"
    assert body_of(msg, "plain") == text
    assert body_of(msg, "html") == html


def test_display_name_with_specials_is_quoted(message: MessageFactory) -> None:
    sender = Originator.parse('"Acme, Inc. \\"Support\\"" <support@acme.test>')
    msg = parse(build_email(message(), sender, date=DATE).data)
    assert msg["From"].addresses[0].display_name == 'Acme, Inc. "Support"'


def test_list_unsubscribe_only_on_marketing_with_url(message: MessageFactory) -> None:
    url = "https://example.com/u/tok-123?c=1"
    marketing = parse(
        build_email(message(is_marketing=True, unsubscribe_url=url), SENDER, date=DATE).data
    )
    assert marketing["List-Unsubscribe"] == f"<{url}>"
    assert marketing["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    transactional = parse(
        build_email(message(is_marketing=False, unsubscribe_url=url), SENDER, date=DATE).data
    )
    no_url = parse(build_email(message(is_marketing=True), SENDER, date=DATE).data)
    for msg in (transactional, no_url):
        assert msg["List-Unsubscribe"] is None
        assert msg["List-Unsubscribe-Post"] is None


def test_message_id_is_stable_per_key_and_distinct_across_keys(message: MessageFactory) -> None:
    first = build_email(message(), SENDER, date=DATE)
    again = build_email(message(subject="edited"), SENDER, date=datetime(2026, 1, 1, tzinfo=UTC))
    other = build_email(message(key="c1:welcome:e1:bye"), SENDER, date=DATE)
    assert first.message_id == again.message_id == "<c1=3Awelcome=3Ae1=3Ahello@example.com>"
    assert other.message_id != first.message_id
    # Characters outside atext are escaped injectively, never dropped.
    assert message_id("a b", "x.test") != message_id("a_b", "x.test")
    assert message_id("a=20b", "x.test") != message_id("a b", "x.test")
    assert not parse(first.data)["Message-ID"].defects


def test_text_part_derived_from_html(message: MessageFactory) -> None:
    html = (
        "<html><head><style>p {color: red}</style></head><body>"
        "<h1>Hello&nbsp;Ada</h1>\n<p>Your   trial\nends <b>soon</b>.</p>"
        '<p><a href="https://example.com/upgrade?a=1&amp;b=2">Upgrade now</a> or '
        '<a href="https://example.com/docs">https://example.com/docs</a></p>'
        "<ul><li>one</li><li>two &amp; three</li></ul><!-- hidden --><script>x()</script>"
        "</body></html>"
    )
    msg = parse(build_email(message(html=html, text=None), SENDER, date=DATE).data)
    assert body_of(msg, "plain") == (
        "Hello Ada\n\nYour trial ends soon.\n\n"
        "Upgrade now (https://example.com/upgrade?a=1&b=2) or https://example.com/docs\n\n"
        "- one\n- two & three\n"
    )


def test_html_to_text_keeps_mailto_and_drops_anchors() -> None:
    html = '<a href="mailto:help@x.test">write us</a> <a href="#top">top</a>'
    assert html_to_text(html) == "write us (help@x.test) top\n"


def test_text_only_message_is_single_part(message: MessageFactory) -> None:
    msg = parse(build_email(message(html=None, text="just text"), SENDER, date=DATE).data)
    assert msg.get_content_type() == "text/plain"
    assert str(msg.get_content()).replace("\r\n", "\n") == "just text\n"


def test_boundary_text_in_body_cannot_end_the_part(message: MessageFactory) -> None:
    built = build_email(message(), SENDER, date=DATE)
    boundary = parse(built.data).get_boundary()
    assert boundary is not None
    sneaky = f"before\n--{boundary}--\nContent-Type: text/html\n\n<b>evil</b>\n"
    msg = parse(build_email(message(text=sneaky), SENDER, date=DATE).data)
    assert body_of(msg, "plain") == sneaky
    assert len(list(msg.iter_parts())) == 2


def test_quoted_printable_for_mostly_ascii_with_long_lines(message: MessageFactory) -> None:
    text = "café " * 300 + "\nend =?not an encoded word?= trailing space \n"
    built = build_email(message(text=text), SENDER, date=DATE)
    assert b"Content-Transfer-Encoding: quoted-printable" in built.data
    assert body_of(parse(built.data), "plain") == text


@pytest.mark.parametrize(
    "to",
    [None, "", "not-an-address", "ada@", "@example.com", "a b@example.com", "김@example.com"],
)
def test_bad_recipient_is_permanent_and_not_a_bounce(message: MessageFactory, to: str) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        build_email(message(to=to), SENDER, date=DATE)
    assert caught.value.bounce is False


def test_idn_recipient_domain_becomes_punycode(message: MessageFactory) -> None:
    built = build_email(message(to="ada@예시.한국"), SENDER, date=DATE)
    punycode = "ada@" + "예시.한국".encode("idna").decode("ascii")
    assert punycode.startswith("ada@xn--")
    assert built.recipient == punycode
    assert parse(built.data)["To"] == punycode


# --- header injection ------------------------------------------------------------------------

INJECTIONS = [
    "hi\r\nBcc: victim@example.com",
    "hi\nBcc: victim@example.com",
    "hi\rBcc: victim@example.com",
    "hi\x00there",
    "hi\u2028Bcc: x@example.com",
    "hi\x85Bcc: x@example.com",
    "hi =?UTF-8?Q?=0A?=Bcc: x@evil.test",
    "hi =?utf-8?b?DQpCY2M6IHhAZXZpbC50ZXN0?=",
    "hi =?iso-8859-1?q?=0D=0ABcc:_x@evil.test?=",
    "hi =?utf-7?q?+AAo-Bcc:_x@evil.test?=",
    "=?utf-8?b?PT91dGYtOD9xPz0wQT89?=",  # an encoded-word hiding another encoded newline
]


@pytest.mark.parametrize("subject", INJECTIONS)
def test_injection_in_subject_is_rejected(message: MessageFactory, subject: str) -> None:
    with pytest.raises(PermanentChannelError, match="control character"):
        build_email(message(subject=subject), SENDER, date=DATE)


@pytest.mark.parametrize("name", INJECTIONS)
def test_injection_in_display_name_is_rejected(name: str) -> None:
    with pytest.raises(PermanentChannelError, match="control character"):
        Originator.parse(f"{name} <hello@example.com>")


@pytest.mark.parametrize(
    "field", [{"to": "ada@example.com\r\nBcc: x@evil.test"}, {"unsubscribe_url": "https://x\n"}]
)
def test_injection_in_to_or_unsubscribe_is_rejected(message: MessageFactory, field: dict) -> None:
    with pytest.raises(PermanentChannelError):
        build_email(message(is_marketing=True, **field), SENDER, date=DATE)


def test_harmless_encoded_word_in_data_is_shown_literally(message: MessageFactory) -> None:
    subject = "price =?utf-8?q?caf=C3=A9?= today"
    msg = parse(build_email(message(subject=subject), SENDER, date=DATE).data)
    assert msg["Subject"] == subject


def test_missing_subject_is_an_empty_header(message: MessageFactory) -> None:
    data = build_email(message(subject=None), SENDER, date=DATE).data
    assert b"\r\nSubject:\r\n" in data
    assert parse(data)["Subject"] == ""


def test_tab_is_allowed_in_header_values() -> None:
    check_header_value("Subject", "a\tb")


# Random text mixed with the pieces injections are made of, including encoded-word syntax.
FRAGMENTS = ["\r", "\n", "\r\n", "=?", "?=", "=0A", "=0D", "?Q?", "?B?", "?b?", "utf-8", ":", " "]
FRAGMENTS += ["Bcc: x@evil.test", "=?utf-8?q?=0A?=", "=?utf-8?b?Cg==?=", "\u2028", "\x85"]
header_text = st.lists(
    st.one_of(st.text(st.characters(codec="utf-8"), max_size=8), st.sampled_from(FRAGMENTS)),
    max_size=16,
).map("".join)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=header_text, name=header_text)
def test_no_generated_value_can_add_a_header(
    message: MessageFactory, subject: str, name: str
) -> None:
    try:
        sender = Originator.parse(f"{name} <hello@example.com>") if name.strip() else SENDER
        built = build_email(message(subject=subject), sender, date=DATE)
    except PermanentChannelError:
        return
    msg = parse(built.data)
    assert {k.lower() for k in msg} == BASE_HEADERS
    assert msg["Subject"] == subject
    assert len(msg.get_all("To") or []) == 1
    assert msg["To"] == "ada@example.com"
