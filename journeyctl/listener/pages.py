"""The unsubscribe page (`GET /u/{token}`): Korean and English, the project's language
first, with a confirm button that POSTs the RFC 8058 body. A GET alone changes nothing
(link scanners and mail clients prefetch links)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, Template, select_autoescape

from journeyctl.spec.models import ProjectSettings

TEXTS: Final = {
    "ko": {
        "title": "수신거부",
        "ask": "이 주소로 보내는 광고성 정보 수신을 거부하시겠습니까? 아래 버튼을 누르면 바로 처리됩니다.",
        "button": "수신거부",
        "done_title": "수신거부 완료",
        "done": "수신거부가 처리되었습니다. 더 이상 광고성 정보를 보내지 않습니다.",
    },
    "en": {
        "title": "Unsubscribe",
        "ask": "Stop receiving marketing messages at this address? Press the button below and it is done.",
        "button": "Unsubscribe",
        "done_title": "Unsubscribed",
        "done": "You are unsubscribed. You will receive no further marketing messages.",
    },
}


def languages(settings: ProjectSettings) -> tuple[str, str]:
    """The page's languages, the project's first: `http.language`, else Korean for a project
    under kr compliance or in Asia/Seoul, else English."""
    first = settings.http.language if settings.http is not None else None
    if first is None:
        korean = "kr" in settings.compliance or settings.timezone == "Asia/Seoul"
        first = "ko" if korean else "en"
    return ("ko", "en") if first == "ko" else ("en", "ko")


@lru_cache(maxsize=1)
def _template() -> Template:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    return env.get_template("unsubscribe.html.j2")


def unsubscribe_page(settings: ProjectSettings, action: str, *, done: bool) -> str:
    return _template().render(languages=languages(settings), texts=TEXTS, action=action, done=done)
