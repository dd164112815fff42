"""A batch that records a render failure must not disturb the claim bookkeeping: a message
another tick already decided is never claimed again (review finding: the failed row's error
update once counted as an inserted row, so two overlapping ticks both claimed one key)."""

from __future__ import annotations

from journeyctl.engine.model import Status, StepResult
from journeyctl.store.open import open_store
from tests.builders import contact
from tests.store.test_contract import BORN, T0, msg


def test_a_render_failure_in_the_batch_does_not_claim_another_ticks_message(db_url: str) -> None:
    a, b = open_store(db_url), open_store(db_url)
    a.upsert_contacts([contact("z"), contact("y")], born=BORN)
    with b.transaction():  # tick B loads z before tick A decides it
        zb, yb = b.load("z"), b.load("y")
    with a.transaction():
        za = a.load("z")
        m = msg("kz", cid="z")
        za.messages.append(m)
        assert [x.key for x, _ in a.save_many([(za, StepResult(messages=[m]))], claim=T0)] == ["kz"]
    mz = msg("kz", cid="z")
    zb.messages.append(mz)
    my = msg("ky", cid="y", status=Status.SKIPPED, reason="render_error")
    yb.messages.append(my)
    failed = StepResult(messages=[my], failures=[(my, "welcome.yaml:6:15: subject ...")])
    got = b.save_many([(zb, StepResult(messages=[mz])), (yb, failed)], claim=T0)
    assert got == []  # kz is A's: B claims nothing
    rows = dict(b.conn.execute("SELECT key, state FROM ledger").fetchall())
    assert rows == {"kz": "attempting", "ky": "failed"}
    error = b.conn.execute("SELECT error FROM ledger WHERE key = 'ky'").fetchone()[0]
    assert error == "welcome.yaml:6:15: subject ..."
    a.close()
    b.close()
