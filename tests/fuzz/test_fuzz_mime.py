"""Fuzz: email header building (issue 14, item 2c).

Any subject, recipient, sender name, unsubscribe URL, idempotency key and body: `build_email`
either refuses with `PermanentChannelError` (its documented error: the message is not sent)
or produces bytes whose headers, parsed back by the stdlib `email` package, are exactly the
expected ones, once each: no CR/LF/U+2028/encoded-word injection adds or splits a header.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeyctl.channels.mime import Originator, build_email
from journeyctl.engine.model import Message, Status
from journeyctl.errors import PermanentChannelError
from tests.fuzz.support import corpus_cases, fuzz, load_json_case, no_hang, outcome

DATE = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
BASE = ["from", "to", "subject", "date", "message-id", "mime-version"]
_HEADER_LINE = re.compile(rb"[!-9;-~]+:")  # a field name: printable ASCII but ':'


def check_email(case: dict[str, Any]) -> None:
    """`case`: subject, to, sender (a `from` setting), reply_to, key, text, html,
    unsubscribe_url, marketing. Refused with PermanentChannelError, or headers intact."""
    try:
        sender = Originator.parse(case["sender"], case.get("reply_to"))
    except PermanentChannelError:
        sender = Originator.parse("Brand <hello@example.com>")
    message = Message(
        case.get("key"),
        case.get("contact_id", "c1"),
        "welcome",
        "hello",
        "email",
        DATE,
        Status.SENT,
        "e1",
        bool(case.get("marketing")),
        subject=case.get("subject"),
        text=case.get("text"),
        html=case.get("html"),
        to=case.get("to"),
        unsubscribe_url=case.get("unsubscribe_url"),
    )
    try:
        with no_hang():
            built = build_email(message, sender, date=DATE)
    except PermanentChannelError as exc:
        assert str(exc), "a refusal says why"
        outcome("refused")
        return
    outcome("built")
    data = built.data
    data.decode("ascii")  # 7-bit clean
    head, sep, _ = data.partition(b"\r\n\r\n")
    assert sep, "no blank line between the headers and the body"
    lines = head.split(b"\r\n")
    assert all(len(line) <= 998 for line in data.split(b"\r\n")), "a line over 998 octets"
    bare = data.replace(b"\r\n", b"")
    assert b"\r" not in bare and b"\n" not in bare, "a bare CR or LF (SMTP forbids them)"
    names = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            continue  # a folded continuation
        m = _HEADER_LINE.match(line)
        assert m, f"not a header line: {line!r}"
        names.append(m.group()[:-1].decode().lower())
    expected = list(BASE)
    if sender.reply_to_header:
        expected.insert(2, "reply-to")
    if message.is_marketing and message.unsubscribe_url:
        expected += ["list-unsubscribe", "list-unsubscribe-post"]
    if message.html is not None:
        expected.append("content-type")
    else:
        expected += ["content-type", "content-transfer-encoding"]  # the single part's own
    assert names == expected, names

    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert sorted(k.lower() for k in parsed) == sorted(expected)
    for name in expected:
        assert len(parsed.get_all(name) or []) == 1, name
    subject = message.subject or ""
    shown = str(parsed["Subject"])
    # Read back, the subject is the text given (the parser drops the folding, and leading
    # or trailing blanks around encoded-words).
    assert " ".join(shown.split()) == " ".join(subject.split()), (shown, subject)
    assert str(parsed["To"]) == built.recipient
    assert parsed["Message-ID"] == built.message_id
    assert "\n" not in built.recipient and "\r" not in built.recipient


# --- strategies --------------------------------------------------------------------------

_injections = st.sampled_from(
    [
        "\r\nBcc: victim@example.com",
        "\nBcc: victim@example.com",
        "\rBcc: x@example.com",
        "\u2028Bcc: x@example.com",
        "\u2029",
        "\x85Bcc: x",
        "\x00",
        "\x0b",
        "\x1b]8;;http://evil\x07",
        "=?utf-8?q?a=0D=0ABcc:_x@example.com?=",
        "=?utf-8?b?DQpCY2M6IHhAZXhhbXBsZS5jb20=?=",
        "=?iso-8859-1?q?=0A?=",
        "=?utf-8?q?=E2=80=A8?=",
        "=?",
        "?=",
        "=?utf-8?b?",
        "\t",
        "  ",
        '"',
        "\\",
        "<",
        ">",
        ",",
        ";",
        ":",
        "(광고) ",
        "김하루",
        "x" * 80,
        "y" * 1000,
        "\udc80",  # a lone surrogate (what an undecodable byte becomes)
        "\ud83d",  # half an emoji
    ]
)
# Any code point, lone surrogates included: template output is a Python str, and a JSON
# Lines contact file can hold "\udc80" (an escaped lone surrogate).
_any_char = st.one_of(st.characters(), st.characters(categories=["Cs"]))
hostile = st.lists(st.one_of(_injections, st.text(_any_char, max_size=8)), max_size=6).map("".join)
plain_hostile = st.lists(st.one_of(_injections, st.text(max_size=8)), max_size=6).map("".join)

_addresses = st.one_of(
    st.sampled_from(
        [
            "ada@example.com",
            "Ada@Example.COM",
            "ada@例え.jp",
            "ada@xn--r8jz45g.jp",
            "a.b+tag@sub.example.co.kr",
            "ada@example.com\r\nBcc: x@example.com",
            "ada@example.com\nBcc: x",
            "<ada@example.com>",
            "Ada <ada@example.com>",
            "ada@@example.com",
            "@example.com",
            "ada@",
            "",
            "김@example.com",
            "ada@-bad-.com",
            "ada@" + "a" * 300 + ".com",
        ]
    ),
    st.builds(lambda a, b: f"{a}@{b}", hostile, hostile),
)
_senders = st.one_of(
    st.sampled_from(
        ["Brand <hello@example.com>", "hello@example.com", "하루마켓 <hi@example.com>"]
    ),
    st.builds(lambda n: f"{n} <hello@example.com>", hostile),
    st.builds(lambda n: f'"{n}" <hello@example.com>', hostile),
)
_urls = st.one_of(
    st.none(),
    st.sampled_from(
        ["https://example.com/u/abc", "mailto:u@example.com", "ftp://x", "javascript:x"]
    ),
    st.builds(lambda t: f"https://example.com/u/{t}", hostile),
)

cases = st.fixed_dictionaries(
    {
        "subject": st.one_of(st.none(), hostile, plain_hostile),
        "to": st.one_of(st.none(), st.just("ada@example.com"), _addresses),
        "sender": _senders,
        "marketing": st.booleans(),
        "unsubscribe_url": _urls,
    },
    optional={
        "reply_to": st.one_of(_senders, hostile),
        # Keys are 32 hex digits in practice; any short non-empty text must still make a
        # valid Message-ID (an empty one cannot: `<@domain>`, and no key is ever empty).
        "key": st.one_of(st.none(), hostile.filter(lambda k: 0 < len(k) <= 60)),
        "contact_id": hostile,
        "text": st.one_of(st.none(), hostile),
        "html": st.one_of(st.none(), hostile, st.just("<p>--=_jc_</p>")),
    },
)

# --- properties --------------------------------------------------------------------------


@fuzz
@given(cases)
def test_headers_are_never_injected(case: dict[str, Any]) -> None:
    check_email(case)


@fuzz
@given(st.one_of(hostile, plain_hostile))
def test_any_subject_is_refused_or_read_back_intact(subject: str) -> None:
    check_email({"subject": subject, "to": "ada@example.com", "sender": "Brand <b@example.com>"})


# --- the saved corpus --------------------------------------------------------------------


def _cases() -> Iterator[Any]:
    for path in corpus_cases("mime"):
        yield pytest.param(path, id=f"mime/{path.name}")


@pytest.mark.parametrize("path", list(_cases()))
def test_saved_case(path: Path) -> None:
    check_email(load_json_case(path))
