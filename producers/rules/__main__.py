"""`python -m producers.rules publish FILE.json`: publish a rule set on queen.rules.

A game patch needs no queenloop release: write the new rules as JSON and publish them before
the game plays them. The file holds a RuleSet's fields (schemas/v1/rule_set.avsc):

    {"rules_version": 3, "publisher": "balance-team", "note": "guards cost 9",
     "cost": [4, 10, 3, 9], "upkeep": [0.05, 0.15, 0.05, 0.2], "kill": [0, 0.2, 0.6, 0.9],
     "harvest": [5, 0, 2, 0], "income": [0.3, 0, 0, 0], "heal": [0, 0, 0, 0.1]}

per spawn type in the order WORKER, SOLDIER, SCOUT, GUARD. The record is checked against the
contract before it is sent (an out-of-bound value exits 2 naming it). Readers keep the first
valid rule set of a version: publishing other numbers under a version already published
changes nothing but a refusal counted by every reader; publish a new version instead.
With QUEEN_RULES_SIGNING_KEY_FILE set, the rule set is signed with that Ed25519 key (readers
with QUEEN_RULES_TRUSTED_KEYS learn only signed ones). Connects with the usual KAFKA_* and
QUEEN_TOPIC_PREFIX settings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from runtime.errors import SettingsError
from runtime.kafka import make_producer
from runtime.rule_book import rules_key
from runtime.rule_signing import rules_signer, sign_rules
from runtime.settings import KafkaSettings, limits_from_env
from runtime.topics import RULES
from schemas.codec import AvroSingleObjectCodec
from schemas.errors import SchemaError
from schemas.records import RuleSet
from schemas.rule_records import PER_TYPE


def rule_set_of(data: Mapping[str, Any], now_us: int) -> RuleSet:
    """The RuleSet a JSON object describes (published_at defaults to `now_us`)."""
    unknown = set(data) - {"rules_version", "publisher", "note", "published_at", *PER_TYPE}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    missing = {"rules_version", *PER_TYPE} - set(data)
    if missing:
        raise ValueError(f"missing field(s): {', '.join(sorted(missing))}")
    return RuleSet(
        rules_version=data["rules_version"],
        published_at=data.get("published_at", now_us),
        publisher=data.get("publisher", "rules-cli"),
        note=data.get("note", ""),
        cost=tuple(data["cost"]),
        upkeep=tuple(data["upkeep"]),
        kill=tuple(data["kill"]),
        harvest=tuple(data["harvest"]),
        income=tuple(data["income"]),
        heal=tuple(data["heal"]),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Publish the rule set of FILE; 0 when the broker acknowledged it."""
    parser = argparse.ArgumentParser(prog="python -m producers.rules", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    publish = commands.add_parser("publish", help="publish the rule set of a JSON file")
    publish.add_argument("file")
    args = parser.parse_args(argv)
    codec = AvroSingleObjectCodec.default(limits_from_env(os.environ))
    try:
        with open(args.file, encoding="utf-8") as f:
            record = rule_set_of(json.load(f), time.time_ns() // 1000)
        key = rules_signer(os.environ.get("QUEEN_RULES_SIGNING_KEY_FILE", ""))
        if key is not None:
            record = sign_rules(key, record)
        value = codec.encode(record)
    except (OSError, ValueError, TypeError, SchemaError, SettingsError) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    settings = KafkaSettings.from_env(os.environ)
    producer = make_producer(settings)
    errors: list[Any] = []
    producer.produce(
        settings.topic(RULES),
        value,
        rules_key(record.rules_version),
        on_delivery=lambda error, _message: errors.append(error) if error else None,
    )
    if producer.flush(30) != 0 or errors:
        why = errors[0] if errors else "not delivered within 30 s"
        print(f"KAFKA_BOOTSTRAP_SERVERS={settings.bootstrap_servers!r}: {why}", file=sys.stderr)
        return 3
    print(f"published rules version {record.rules_version} to {settings.topic(RULES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
