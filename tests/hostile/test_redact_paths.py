"""Webhook secrets that live in the URL's path (Slack, Discord) are masked wherever a URL is
quoted, like userinfo and query values (review finding)."""

from __future__ import annotations

import pytest

from journeyctl.redact import redact_text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("refused: https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdEFGH1234ijklMNOP5678",
         "refused: https://hooks.slack.com/services/T0123ABCD/B0456EFGH/***"),
        ("https://discord.com/api/webhooks/123456789012345678/AbC-dEf_1234567890xyzXYZ",
         "https://discord.com/api/webhooks/123456789012345678/***"),
        ("https://u:p@sms.example.com/v1/send?token=abc", "https://***@sms.example.com/v1/send?token=***"),
        ("https://api.example.com/v1/messages/send", "https://api.example.com/v1/messages/send"),
    ],
)  # fmt: skip
def test_secrets_in_paths_are_masked(text: str, shown: str) -> None:
    assert redact_text(text) == shown
