"""Broker loss under `make run`: the embedded broker killed, the loop flows again by itself.

`python -m runtime.run` owns its embedded broker here. Killing the broker (what a restart of
the memory-only broker is: an empty one on the same port) must not leave any service hung:
the supervisor restarts the broker and creates the topics again, every service notices that
its topics were re-created, exits with one line, is restarted, and decisions flow again.
"""

from __future__ import annotations

import pytest

from tests.faults.broker import SERVICES, lose_the_broker

pytestmark = pytest.mark.faults


def test_the_loop_flows_again_after_the_embedded_broker_is_lost(tmp_path):
    loss = lose_the_broker(tmp_path)
    print(f"\nbroker loss: decisions flow again {loss.flowing_after_s:.1f}s after the broker died")
    assert loss.exit_code == 0, loss.output[-4000:]
    assert {name for name, _ in loss.restarts} >= set(SERVICES), loss.restarts
    # 4: the watch saw the topics re-created; 5: a commit or a delivery failed first; 2: a
    # restart found no topics yet. Never a hang, never a traceback.
    assert {code for _, code in loss.restarts} <= {"2", "4", "5"}, loss.restarts
    for name, log in loss.logs.items():
        assert "Traceback" not in log, f"{name}: {log[-3000:]}"
