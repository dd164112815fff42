"""Wire bytes of one email: hand-assembled multipart/alternative, safe against header injection.

Not `email.message.EmailMessage`: building one costs more than the SMTP round trip itself
(bench/RESULTS.md). This builds the same RFC 5322/2045/2047 output with plain string
operations. Every header value is checked first (SPEC §5): a
CR, LF or other control character - also one hidden in an RFC 2047 encoded-word, which the
Python 3.11 email package lets through (cpython#121650) - rejects the message unsent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parseaddr
from urllib.parse import quote

from journeyctl.channels.testmark import TEST_HEADER, is_test_key
from journeyctl.engine.model import Message
from journeyctl.errors import PermanentChannelError

CRLF = "\r\n"
MAX_LINE = 78  # RFC 5322 SHOULD; 998 is the MUST
# C0 controls except TAB, DEL, C1 controls (incl. NEL U+0085), and Unicode line/paragraph
# separators: any of them can end a header line in some parser. Lone surrogates too (an
# undecodable byte, or "\udc80" in a JSON Lines file): no encoding can write them.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
# Printable ASCII words separated by single spaces can go out as they are.
_PLAIN = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_MSGID_SAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+/?^_`{|}~-]")
_EOL = re.compile(r"\r\n|\r|\n")
_SINGLE_SPACE = re.compile(r"(?<=[^ ]) (?=[^ ])")
_EW_CHUNK = 39  # UTF-8 bytes per encoded-word: "Subject: " + 64-char word stays under 78


# --- header safety -----------------------------------------------------------------------


def _decode_word(match: re.Match[str]) -> str:
    charset, kind, payload = match.group(1).split("*", 1)[0], match.group(2), match.group(3)
    try:
        if kind in "bB":
            raw = base64.b64decode(payload + "=" * (-len(payload) % 4))
        else:
            raw = binascii.a2b_qp(payload.encode("ascii", "ignore"), header=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    try:
        return raw.decode(charset, errors="replace")
    except LookupError:
        return raw.decode("latin-1")


def decode_encoded_words(value: str) -> str:
    """Decode RFC 2047 encoded-words the way a lenient mail reader would (repeatedly)."""
    for _ in range(3):
        decoded = _ENCODED_WORD.sub(_decode_word, value)
        if decoded == value:
            break
        value = decoded
    return value


def check_header_value(name: str, value: str) -> None:
    """Raise PermanentChannelError if `value` could end the header line, even once decoded."""
    for candidate in (value, decode_encoded_words(value) if "=?" in value else value):
        found = _CONTROL.search(candidate)
        if found:
            what = "lone surrogate" if "\ud800" <= found.group() <= "\udfff" else "control"
            raise PermanentChannelError(
                f"{name} contains the {what} character {found.group()!r}"
                f"{' inside an encoded-word' if candidate is not value else ''}: {value!r}; "
                "not sent (header injection guard). Remove line breaks from the data it uses."
            )


# --- header encoding ---------------------------------------------------------------------


def _encoded_words(value: str) -> list[str]:
    """Split `value` into base64 encoded-words, never splitting a character."""
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for char in value:
        width = len(char.encode("utf-8"))
        if size + width > _EW_CHUNK and chunk:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    if chunk or not words:
        words.append("".join(chunk))
    return [
        "=?utf-8?b?" + base64.b64encode(w.encode("utf-8")).decode("ascii") + "?=" for w in words
    ]


def _fold(name: str, tokens: list[str]) -> str:
    """`Name: tok tok` folded before a space when a line would pass 78 characters."""
    lines: list[str] = []
    line = f"{name}:"
    for token in tokens:
        if len(line) + 1 + len(token) > MAX_LINE and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return CRLF.join(lines) + CRLF


def is_plain(value: str) -> bool:
    """True when `value` can be written as is: printable ASCII, single spaces, no `=?`."""
    return (
        bool(_PLAIN.fullmatch(value))
        and "=?" not in value
        and all(len(w) <= 900 for w in value.split(" "))
    )


def unstructured_header(name: str, value: str) -> str:
    """One checked, encoded, folded header line (with CRLF) for free text such as Subject."""
    check_header_value(name, value)
    if not value:
        return f"{name}:{CRLF}"
    if is_plain(value):
        return _fold(name, value.split(" "))
    # Encoded-words also carry a literal `=?...?=` from the data, so readers show it as text.
    return _fold(name, _encoded_words(value))


def _words(phrase: str) -> list[str]:
    """Where a phrase may be folded: at single spaces (a run of them stays in its word)."""
    return _SINGLE_SPACE.split(phrase)


def _short(phrase: str) -> bool:
    return all(len(w) <= 900 for w in _words(phrase))


def display_name(value: str) -> str:
    """RFC 5322 phrase: atoms, a quoted-string, or encoded-words for non-ASCII (and for a
    word too long for one line: 998 octets is a MUST)."""
    check_header_value("display name", value)
    if all(_ATEXT.fullmatch(w) for w in value.split(" ")) and "=?" not in value and _short(value):
        return value
    if is_plain(value) or (value.isascii() and value.isprintable() and "=?" not in value):
        quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if _short(quoted):
            return quoted
    return " ".join(_encoded_words(value))


def mailbox_header(name: str, display: str, address: str) -> str:
    """`Name: display <address>` (or the bare address), folded, with its CRLF."""
    if not display:
        return f"{name}: {address}{CRLF}"
    return _fold(name, [*_words(display_name(display)), f"<{address}>"])


def normalize_address(value: str, what: str = "address") -> str:
    """A bare `local@domain` address; IDN domains become punycode. PermanentChannelError if not."""
    check_header_value(what, value)
    address = value.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or len(address) > 254:
        raise PermanentChannelError(f"{what} {value!r} is not an email address; not sent")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise PermanentChannelError(
                f"{what} {value!r} has an invalid domain; not sent"
            ) from None
    if not _LOCAL_PART.fullmatch(local):
        raise PermanentChannelError(
            f"{what} {value!r} has a local part this sender cannot write "
            "(non-ASCII or quoted local parts need SMTPUTF8); not sent"
        )
    if not _DOMAIN.fullmatch(domain):
        raise PermanentChannelError(f"{what} {value!r} has an invalid domain; not sent")
    return f"{local}@{domain}"


@dataclass(frozen=True, slots=True)
class Originator:
    """The parsed `from` (and `reply_to`) of a channel, encoded once per channel: RFC 5322's
    originator fields (not the project's `sender`, spec.models.Sender, who the law asks about)."""

    address: str  # envelope sender
    domain: str  # right-hand side of Message-IDs
    from_header: str  # "From: ...\r\n"
    reply_to_header: str  # "" or "Reply-To: ...\r\n"

    @classmethod
    def parse(cls, from_: str, reply_to: str | None = None) -> Originator:
        """Parse `Name <addr>` or `addr`; PermanentChannelError (a config error) if invalid."""
        name, address = _split_mailbox(from_, "from")
        header = mailbox_header("From", name, address)
        reply = ""
        if reply_to:
            rname, raddress = _split_mailbox(reply_to, "reply_to")
            reply = mailbox_header("Reply-To", rname, raddress)
        return cls(address, address.rpartition("@")[2], header, reply)


def _split_mailbox(value: str, what: str) -> tuple[str, str]:
    check_header_value(what, value)
    name, address = parseaddr(value)
    if not address:
        raise PermanentChannelError(f"{what} {value!r} is not `Name <address>` or an address")
    return name.strip(), normalize_address(address, what)


def message_id(key: str, domain: str) -> str:
    """`<key@domain>`, stable per idempotency key; unsafe characters become =XX (injective)."""
    local = _MSGID_SAFE.sub(
        lambda m: "".join(f"={b:02X}" for b in m.group().encode("utf-8", "surrogatepass")),
        key.replace("=", "=3D"),
    )
    return f"<{local}@{domain}>"


def unsubscribe_target(url: str) -> str:
    """The URL as it goes between `<` and `>`: checked, non-ASCII percent-encoded."""
    check_header_value("unsubscribe_url", url)
    target = quote(url.strip(), safe="!#$&'()*+,/:;=?@[]~%")
    if not target.lower().startswith(("https://", "http://", "mailto:")) or len(target) > 900:
        raise PermanentChannelError(
            f"unsubscribe_url {url!r} must be an http(s) or mailto URL under 900 characters"
        )
    return target


# --- bodies ------------------------------------------------------------------------------

_DROP = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>|<!--.*?-->", re.S | re.I)
_LINK = re.compile(
    r"<a\b[^>]*?\bhref\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))[^>]*>(.*?)</a\s*>", re.S | re.I
)
_BLOCK = re.compile(
    r"</?(?:p|div|h[1-6]|ul|ol|table|tr|blockquote|section|article|header|footer|hr|pre)\b[^>]*>",
    re.I,
)
_BR = re.compile(r"<br\b[^>]*>", re.I)
_ITEM = re.compile(r"<li\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_BLANK_RUN = re.compile(r"\n{3,}")


def _link_text(match: re.Match[str]) -> str:
    url = (match.group(1) or match.group(2) or match.group(3) or "").strip()
    label = match.group(4)
    if "<" in label:
        label = _TAG.sub("", label)
    label = label.strip()
    if not url or url.startswith(("#", "javascript:")):
        return label
    shown = url[7:] if url[:7].lower() == "mailto:" else url
    if not label or label in (url, shown):
        return f" {shown} "
    return f"{label} ({shown})"


def html_to_text(markup: str) -> str:
    """Plain-text alternative of an HTML body: tags stripped, link URLs kept, entities decoded.

    String methods do the bulk work (str.split is C); the regexes run only where needed.
    """
    lowered = markup.lower()
    if "<!--" in markup or any(f"<{t}" in lowered for t in ("script", "style", "head", "title")):
        markup = _DROP.sub("", markup)
    if "<a" in lowered:
        markup = _LINK.sub(_link_text, markup)
    text = " ".join(markup.split())  # source line breaks are just spaces in HTML
    text = _BLOCK.sub("\n\n", text)
    if "<br" in lowered:
        text = _BR.sub("\n", text)
    if "<li" in lowered:
        text = _ITEM.sub("\n- ", text)
    text = html.unescape(_TAG.sub("", text)).replace("\xa0", " ")
    text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
    return _BLANK_RUN.sub("\n\n", text).strip() + "\n"


def _body_part(subtype: str, text: str, boundary: str, *, multipart: bool) -> str:
    """Part headers + encoded body; 7bit for short-lined ASCII, else QP or base64.

    In a multipart body the CRLF before `--boundary` belongs to the delimiter, so one is
    always added: the part's own trailing newline (or its absence) survives the round trip.
    """
    body = _EOL.sub(CRLF, text)
    try:
        raw = body.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PermanentChannelError(
            f"the text/{subtype} body contains a lone surrogate {body[exc.start]!r} "
            f"(character {exc.start + 1}), which no encoding can write; not sent"
        ) from None
    if raw.isascii() and boundary not in body and all(len(x) <= 998 for x in body.split(CRLF)):
        encoding, payload = "7bit", body
    elif len(raw) - len(body) > len(raw) // 6:  # mostly non-ASCII (Korean): base64 is smaller
        encoding = "base64"
        payload = base64.encodebytes(raw).decode("ascii").replace("\n", CRLF)
    else:
        encoding = "quoted-printable"
        # b2a_qp breaks long lines with "=\n" unless the text already has a CRLF: a bare LF,
        # which SMTP forbids (servers refuse it since the 2023 smuggling fixes).
        payload = _EOL.sub(CRLF, binascii.b2a_qp(raw, istext=True).decode("ascii"))
    if multipart or not payload.endswith(CRLF):
        payload += CRLF
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}{payload}"
    )


# --- the message -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuiltEmail:
    data: bytes  # CRLF line endings, 7-bit clean
    recipient: str  # envelope recipient (normalized)
    message_id: str


def build_email(message: Message, sender: Originator, *, date: datetime) -> BuiltEmail:
    """Assemble the email for `message`; PermanentChannelError when it must not be sent."""
    if not message.to:
        raise PermanentChannelError(
            f"contact {message.contact_id!r} has no email address; not sent"
        )
    recipient = normalize_address(message.to, "recipient")
    mid = message_id(message.key, sender.domain)
    headers = [
        sender.from_header,
        f"To: {recipient}{CRLF}",
        sender.reply_to_header,
        unstructured_header("Subject", message.subject or ""),
        f"Date: {format_datetime(date.astimezone(UTC))}{CRLF}",
        f"Message-ID: {mid}{CRLF}",
        f"MIME-Version: 1.0{CRLF}",
    ]
    if is_test_key(message.key):  # `journeyctl send-test`: says so beside the subject prefix
        headers.append(f"{TEST_HEADER}: yes{CRLF}")
    if message.is_marketing and message.unsubscribe_url:
        # RFC 8058 one-click; Gmail and Yahoo require it of bulk senders.
        headers.append(f"List-Unsubscribe: <{unsubscribe_target(message.unsubscribe_url)}>{CRLF}")
        headers.append(f"List-Unsubscribe-Post: List-Unsubscribe=One-Click{CRLF}")
    # Boundaries start with "=_": neither quoted-printable nor base64 output can contain it.
    key = message.key.encode("utf-8", "surrogatepass")
    boundary = "=_jc_" + hashlib.sha256(key).hexdigest()[:32]
    text = message.text if message.text is not None else html_to_text(message.html or "")
    if message.html is None:
        body = _body_part("plain", text, boundary, multipart=False)
    else:
        headers.append(f'Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"{CRLF}')
        body = (
            f"{CRLF}--{boundary}{CRLF}{_body_part('plain', text, boundary, multipart=True)}"
            f"--{boundary}{CRLF}{_body_part('html', message.html, boundary, multipart=True)}"
            f"--{boundary}--{CRLF}"
        )
    head = "".join(headers)
    data = (head + body).encode("ascii")
    return BuiltEmail(data, recipient, mid)
