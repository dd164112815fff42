"""How a test send (`journeyctl send-test`) is told apart from a real message, on every channel.

A real message's idempotency key is hex (engine.draw.message_key), so a key that starts with
TEST_KEY_PREFIX can only be a test's. Channels that carry headers add TEST_HEADER for it (the
email's header block, the webhook's request); the file outbox line carries the key itself.
"""

from __future__ import annotations

from typing import Final

TEST_KEY_PREFIX: Final = "test-"
TEST_HEADER: Final = "X-Journeyctl-Test"
TEST_SUBJECT_PREFIX: Final = "[TEST] "
TEST_ENROLLMENT: Final = "test"  # the enrollment_id of a test send: it belongs to none


def is_test_key(key: str) -> bool:
    return key.startswith(TEST_KEY_PREFIX)
