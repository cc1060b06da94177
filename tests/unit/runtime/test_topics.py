import pytest

from runtime.errors import TopicMismatchError
from runtime.settings import KafkaSettings
from runtime.topics import CO_PARTITIONED, check_co_partitioning, topic_specs


def test_every_topic_of_the_design_with_its_partitioning():
    specs = {s.name: s for s in topic_specs(KafkaSettings(topic_prefix="q.", partitions=6))}
    assert set(specs) == {
        "q.observations",
        "q.decisions",
        "q.rewards",
        "q.experiences",
        "q.model-versions",
        "q.rules",
        "q.dead-letters",
        "q.promotions",
    }
    for name in CO_PARTITIONED:
        assert specs[f"q.{name}"].partitions == 6 and specs[f"q.{name}"].co_partitioned
    assert specs["q.model-versions"].config["cleanup.policy"] == "compact"
    assert specs["q.model-versions"].partitions == 1
    assert specs["q.rules"].config["cleanup.policy"] == "compact"
    assert specs["q.rules"].partitions == 1
    assert specs["q.promotions"].config["cleanup.policy"] == "compact"
    assert specs["q.promotions"].partitions == 1


def test_co_partitioned_topics_with_different_counts_are_refused():
    specs = topic_specs(KafkaSettings(topic_prefix="q.", partitions=4))
    check_co_partitioning({"q.decisions": 4, "q.rewards": 4}, specs)
    with pytest.raises(TopicMismatchError, match="q.decisions=4.*q.rewards=3"):
        check_co_partitioning({"q.decisions": 4, "q.rewards": 3}, specs)
    with pytest.raises(TopicMismatchError, match="q.observations=4"):
        check_co_partitioning({"q.experiences": 8}, specs)
