"""make run's supervisor: restarts with a doubling backoff, and says so."""

from runtime.supervise import BACKOFF_MIN, Child, Supervisor


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_an_exited_service_is_restarted_after_a_doubling_backoff(tmp_path):
    clock = Clock()
    child = Child("flaky", "this_module_does_not_exist", {}, str(tmp_path / "log"), 0)
    supervisor = Supervisor([child], clock=clock)
    supervisor.start_all()
    child.process.wait(30)  # python -m of a missing module exits 1 at once
    supervisor.check()
    assert child.state() == "restarting" and child.last_exit == 1 and child.restarts == 0
    clock.now += BACKOFF_MIN
    supervisor.check()
    assert child.restarts == 1
    child.process.wait(30)
    supervisor.check()  # exited again: the next wait is twice as long
    assert child.next_start == clock.now + 2 * BACKOFF_MIN
    assert "restarts 1, last exit 1" in child.state()
    assert any("flaky exited 1; restart in 2s" in e for e in supervisor.events)
