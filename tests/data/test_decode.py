"""Encoding detection and the bad-encoding diagnostic (SPEC §3: UTF-8, BOM, CP949)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from journeyctl.data.contacts import read_contacts
from journeyctl.data.decode import HEAD_BYTES, detect_encoding, open_text
from journeyctl.errors import DataError, UsageError
from journeyctl.spec.models import ProjectSettings

KOREAN = "id,name\r\nc1,김똠순\r\n"  # 똠 is CP949-only: EUC-KR cannot decode it


def test_detect_bom() -> None:
    assert detect_encoding(codecs.BOM_UTF8 + b"id") == "utf-8-sig"


def test_detect_utf8() -> None:
    assert detect_encoding(KOREAN.encode("utf-8")) == "utf-8"


def test_detect_cp949() -> None:
    assert detect_encoding(KOREAN.encode("cp949")) == "cp949"


def test_detect_utf8_cut_mid_character() -> None:
    # The 64 KiB head may end inside a multi-byte character; that is still UTF-8.
    assert detect_encoding("가나".encode()[:-1]) == "utf-8"


def test_open_text_reads_cp949_with_crlf_untranslated(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_bytes(KOREAN.encode("cp949"))
    with open_text(p) as f:
        assert f.read() == KOREAN  # newline="" keeps \r\n for the csv module


def test_open_text_encoding_override(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_bytes("이름".encode("cp949"))
    with open_text(p, "euc-kr") as f:
        assert f.read() == "이름"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
def test_contacts_read_in_every_encoding(tmp_path: Path, encoding: str) -> None:
    p = tmp_path / "c.csv"
    p.write_bytes(KOREAN.encode(encoding))
    result = read_contacts(p, ProjectSettings())
    assert [(c.id, c.name) for c in result.items] == [("c1", "김똠순")]


def test_bad_byte_after_the_detection_window_is_located(tmp_path: Path) -> None:
    # Detection sees only UTF-8; a CP949 row later must be reported at its line, not garbled.
    filler = "".join(f"c{i},name{i}\n" for i in range(HEAD_BYTES // 8))
    n_lines = 1 + filler.count("\n")
    p = tmp_path / "c.csv"
    p.write_bytes(b"id,name\n" + filler.encode() + "x1,김철수\n".encode("cp949"))
    with pytest.raises(DataError) as exc:
        read_contacts(p, ProjectSettings())
    [d] = exc.value.diagnostics
    assert str(d) == f"{p}:{n_lines + 1}:2: error[bad-encoding]: byte 0xB1 is not valid utf-8"
    assert d.hint is not None and "--encoding cp949" in d.hint


def test_bad_byte_row_is_skippable(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_bytes(b"id,name\nc1,ok\nc2,\xff\xfe bad\nc3,fine\n")
    result = read_contacts(p, ProjectSettings(), encoding="utf-8", skip_invalid=True)
    assert [c.id for c in result.items] == ["c1", "c3"]
    assert [str(d) for d in result.diagnostics] == [
        f"{p}:3:2: error[bad-encoding]: byte 0xFF is not valid utf-8"
    ]


def test_wrong_override_is_reported_not_garbled(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_bytes(KOREAN.encode("cp949"))
    with pytest.raises(DataError) as exc:
        read_contacts(p, ProjectSettings(), encoding="utf-8")
    assert [d.code for d in exc.value.diagnostics] == ["bad-encoding"]
    assert exc.value.diagnostics[0].location.line == 2


def test_unknown_encoding_is_a_usage_error(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_text("id\n")
    with pytest.raises(UsageError, match="unknown encoding 'klingon'"):
        read_contacts(p, ProjectSettings(), encoding="klingon")


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        read_contacts(tmp_path / "nope.csv", ProjectSettings())


def test_bom_with_explicit_utf8_override(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_bytes(codecs.BOM_UTF8 + "id,name\nc1,김\n".encode())
    [c] = read_contacts(p, ProjectSettings(), encoding="utf-8").items
    assert (c.id, c.name) == ("c1", "김")
