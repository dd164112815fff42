"""`journeyctl preview`: text, JSON and an HTML page (`--out F.html`, `--open`), and the size of
an SMS as Korean carriers count it (bytes in EUC-KR/CP949: SMS up to 90, LMS beyond)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.channels.sms_size import sms_size
from journeyctl.cli import _register, app
from tests.builders import build_tree

_register()
ROOT = Path(__file__).resolve().parents[2]

JOURNEY = """
timezone: Asia/Seoul
channels:
  email: {type: file, path: outbox/, medium: email}
  sms: {type: file, path: outbox/, medium: sms}
"""
SEQ = """
sequence: promo
trigger: {event: subscribed}
steps:
  - send: short
    channel: sms
    body: "{{ contact.name }}님 쿠폰 도착"
  - send: long
    channel: sms
    body: "{{ contact.name }}님, 장바구니에 담아두신 상품이 아직 기다리고 있어요. 오늘 자정까지 10% 할인 쿠폰을 드려요."
  - send: mail
    channel: email
    subject: "<b>{{ contact.name }}</b>님"
    template: mail.html.j2
"""
HTML = "<p>안녕하세요 {{ contact.name }}님</p><script>alert(1)</script>"


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    build_tree(tmp_path, {"p/journey.yaml": JOURNEY, "p/promo.yaml": SEQ,
                          "p/templates/mail.html.j2": HTML})  # fmt: skip
    return tmp_path / "p"


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1"})
    return r.exit_code, r.stdout, r.stderr


def test_sms_bytes_are_counted_as_korean_carriers_do() -> None:
    assert sms_size("a" * 90).kind == "SMS"
    assert sms_size("a" * 91).kind == "LMS"
    assert (sms_size("가" * 45).bytes, sms_size("가" * 45).kind) == (90, "SMS")
    assert sms_size("가" * 46).kind == "LMS"  # 46 Hangul: 92 bytes
    assert sms_size("똠").bytes == 2  # CP949's extended Hangul
    assert sms_size("x" * 2001).kind == "too long"
    emoji = sms_size("쿠폰 🎁")
    assert emoji.unencodable == ("🎁",) and emoji.bytes == 7


def test_sms_preview_shows_bytes_and_class(proj: Path) -> None:
    code, out, _ = invoke("preview", str(proj), "promo", "short")
    assert code == 0 and "Size: SMS: 18 bytes (limit 90, counted in EUC-KR/CP949)" in out
    code, out, _ = invoke("preview", str(proj), "promo", "long", "--format", "json")
    doc = json.loads(out)
    assert doc["sms"]["class"] == "LMS" and doc["sms"]["bytes"] > 90
    code, out, _ = invoke("preview", str(proj), "promo", "mail", "--format", "json")
    assert "sms" not in json.loads(out)  # email: the JSON shape as before


def test_out_html_writes_a_page_with_the_message_sandboxed(proj: Path, tmp_path: Path) -> None:
    page = tmp_path / "mail.html"
    code, out, err = invoke("preview", str(proj), "promo", "mail", "--out", str(page))
    assert (code, out, err) == (0, "", "")
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>")
    assert "&lt;b&gt;김민지&lt;/b&gt;님" in text  # the subject is text, escaped
    assert '<iframe sandbox srcdoc="' in text  # the message's HTML, scripts disabled
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_open_calls_the_browser_with_the_page(
    proj: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import webbrowser

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    monkeypatch.setenv("DISPLAY", ":0")
    page = tmp_path / "p.html"
    code, out, _ = invoke("preview", str(proj), "promo", "long", "--open", "--out", str(page))
    assert (code, out) == (0, "")
    assert opened == [page.resolve().as_uri()] and "LMS" in page.read_text(encoding="utf-8")


def test_open_without_a_display_says_where_the_page_is(proj: Path, tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")
    }
    page = tmp_path / "p.html"
    r = subprocess.run(
        [sys.executable, "-m", "journeyctl", "preview", str(proj), "promo", "short", "--open",
         "--out", str(page)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"no browser to open here (no display); the preview is in {page}" in r.stderr
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
