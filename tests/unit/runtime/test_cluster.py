"""The cluster watch: what counts as the cluster having lost a service's data."""

import threading

from runtime.cluster import ClusterChanged, ClusterWatch, TopicState, Unreachable, changes


def test_a_topic_gone_re_created_or_re_partitioned_is_a_change():
    before = {"a": TopicState("id-a", 4), "b": TopicState("id-b", 4), "c": TopicState("id-c", 1)}
    now = {"a": TopicState("id-a", 4), "b": TopicState("id-b2", 4), "c": TopicState("id-c", 2)}
    found = changes(before, now)
    assert found == [
        "topic b was re-created (id id-b -> id-b2)",
        "topic c has 2 partitions, had 1",
    ]
    assert changes(before, {"a": before["a"]})[0] == "topic b is gone"
    assert changes(before, dict(before)) == []


class FakeWatch(ClusterWatch):
    """A watch whose describe answers from a script (no broker)."""

    def __init__(self, answers, lost):
        super().__init__(
            None, ["t"], "b:1", interval=0.01, unreachable_limit=0.05, on_lost=lost.append
        )
        self.answers = answers
        self.states = {"t": TopicState("id", 4)}

    def check(self):
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_the_watch_reports_a_change_or_a_cluster_silent_too_long():
    lost: list[str] = []
    FakeWatch([None, "topic t was re-created (id a -> b)"], lost).run()
    assert lost == ["the cluster lost this service's data: topic t was re-created (id a -> b)"]
    lost.clear()
    silent = FakeWatch([Unreachable("no answer")] * 100, lost)
    thread = threading.Thread(target=silent.run)
    thread.start()
    thread.join(5)
    assert len(lost) == 1 and "has not answered" in lost[0] and "b:1" in lost[0]
    assert isinstance(ClusterChanged("x"), Exception)
