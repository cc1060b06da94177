"""The game announces its rules: each rule set it plays, on `queen.rules`, before it plays it.

Rules are data (runtime/rule_book.py): inference's gate and the trainer know a rules version
only from its RuleSet on the topic. So the simulated game publishes the rule set in force when
it starts, and on patch day the new one, in the same output as (and ahead of) the first
observations under it. Each version once per run; re-publishing the same rules after a
restart is harmless (readers keep the first valid rule set of a version, and the same numbers
are not a conflict).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from queen.rules import RuleSet
from runtime.handler import Outgoing
from runtime.rule_book import record_of, rules_key
from runtime.rule_signing import sign_rules


class RulesAnnouncer:
    """Returns the RuleSet record of a rules version the first time the game plays it."""

    def __init__(
        self,
        topic: str,
        publisher: str = "game",
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        key: Ed25519PrivateKey | None = None,
    ) -> None:
        """Publish to `topic` as `publisher`, signed with `key` (None: unsigned)."""
        self.topic = topic
        self.key = key
        self.publisher = publisher
        self.wall_us = wall_us
        self.announced: set[int] = set()

    def announce(self, rules: RuleSet) -> list[Outgoing]:
        """[the record publishing `rules`] the first time, [] after."""
        if rules.version in self.announced:
            return []
        self.announced.add(rules.version)
        record = record_of(rules, self.publisher, self.wall_us(), f"rules version {rules.version}")
        if self.key is not None:
            record = sign_rules(self.key, record)
        return [Outgoing(self.topic, rules_key(rules.version), record)]
