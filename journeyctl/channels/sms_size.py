"""How Korean carriers size a text message: bytes in EUC-KR/CP949, SMS up to 90, LMS up to 2,000.

The counting rule (docs/decisions/operate-cli.md): each character counts the bytes it takes in
CP949 (the superset of EUC-KR that Korean SMS gateways accept): ASCII 1, Hangul, Hanja and
full-width symbols 2, a line feed 1 (CRLF 2). A character CP949 cannot encode (emoji, most
non-Korean scripts) is counted as 2 and listed: gateways replace it with `?` or refuse the
message, so it is worth seeing before the send.
"""

from __future__ import annotations

from dataclasses import dataclass

SMS_MAX_BYTES = 90
LMS_MAX_BYTES = 2000


@dataclass(frozen=True, slots=True)
class SmsSize:
    bytes: int
    kind: str  # SMS | LMS | too long
    unencodable: tuple[str, ...]  # characters CP949 cannot carry, in order of appearance

    def as_dict(self) -> dict[str, object]:
        return {"bytes": self.bytes, "class": self.kind, "unencodable": list(self.unencodable)}

    def describe(self) -> str:
        limit = SMS_MAX_BYTES if self.kind == "SMS" else LMS_MAX_BYTES
        text = f"{self.kind}: {self.bytes} bytes (limit {limit}, counted in EUC-KR/CP949)"
        if self.kind == "too long":
            text = f"too long for LMS: {self.bytes} bytes (limit {LMS_MAX_BYTES})"
        if self.unencodable:
            text += "; not in EUC-KR/CP949 (may arrive as ? or be refused): " + " ".join(
                dict.fromkeys(self.unencodable)
            )
        return text


def sms_size(text: str) -> SmsSize:
    total = 0
    bad: list[str] = []
    for ch in text:
        try:
            total += len(ch.encode("cp949"))
        except UnicodeEncodeError:
            total += 2
            bad.append(ch)
    kind = "SMS" if total <= SMS_MAX_BYTES else "LMS" if total <= LMS_MAX_BYTES else "too long"
    return SmsSize(total, kind, tuple(bad))
