"""The Kubernetes wiring: Strimzi topics and users, TLS, least privilege, KEDA, keys, config."""

from __future__ import annotations

import posixpath
import shutil
from collections import defaultdict
from typing import Any

import pytest

from consumers.inference.__main__ import InferenceSettings
from consumers.joiner.__main__ import JoinerSettings
from consumers.promoter.settings import PromoterSettings
from runtime.settings import KafkaSettings
from runtime.topics import topic_specs
from tests.deploy_helpers import (
    DEPLOY,
    OVERLAYS,
    build,
    build_dir,
    config,
    container_env,
    mounted_file,
    mounts,
    of_kind,
    validate_custom_resources,
)

STRIMZI = "kafka.strimzi.io/v1"
SERVICES = ("game", "inference", "joiner", "trainer", "promoter")

# The least-privilege matrix, by topic name without the prefix. Only these services write and
# read these topics; a topic the services create but this matrix does not name fails the test.
WRITES = {
    "game": {"observations", "rewards", "rules", "dead-letters"},
    "inference": {"decisions", "dead-letters"},
    "joiner": {"experiences", "dead-letters"},
    "trainer": {"model-versions", "dead-letters"},
    "promoter": {"promotions", "dead-letters"},
}
READS = {
    "game": {"decisions"},
    "inference": {"observations", "model-versions", "rules", "promotions"},
    "joiner": {"decisions", "rewards"},
    "trainer": {"experiences", "model-versions", "rules"},
    "promoter": {"experiences", "model-versions", "promotions"},
}
GROUPS = {
    "inference": InferenceSettings.group_id,
    "joiner": JoinerSettings.group_id,
    "trainer": "queen-trainer",  # trainer/__main__.py: QUEEN_TRAINER_GROUP's default
    "promoter": PromoterSettings.group_id,
}
# runtime.kafka.make_reader's group.id: assign()-only readers still look up its coordinator.
READER_GROUP = "queenloop-unused"
READERS = {"game", "inference", "trainer", "promoter"}  # the services that call make_reader
JOINER_TRANSACTIONAL_PREFIX = "queen-joiner-"  # the joiner's default transactional.id prefix


def deployments(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Deployments by component (game, inference, joiner, trainer, promoter)."""
    return {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in of_kind(objects, "Deployment").values()
    }


def grants(user: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """(resource type, name, pattern type, operation) of every allow rule of a KafkaUser."""
    out = set()
    for acl in user["spec"]["authorization"]["acls"]:
        assert acl.get("type", "allow") == "allow"
        r = acl["resource"]
        for op in acl["operations"]:
            out.add((r["type"], r.get("name", ""), r.get("patternType", "literal"), op))
    return out


def strimzi_cluster(objects: list[dict[str, Any]]) -> tuple[str, str]:
    """(cluster name, namespace) every Strimzi resource of the build agrees on."""
    found = {
        (o["metadata"]["labels"]["strimzi.io/cluster"], o["metadata"]["namespace"])
        for o in objects
        if o["apiVersion"].startswith("kafka.strimzi.io/")
    }
    assert len(found) == 1, f"Strimzi resources disagree on cluster/namespace: {found}"
    return found.pop()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_validate_against_their_crds(overlay):
    """Strimzi v1 and KEDA resources match their CRDs' schemas, unknown fields rejected."""
    objects = build(overlay)
    checked, errors = validate_custom_resources(objects)
    assert errors == []
    expected = {"KafkaTopic", "KafkaUser"} | (
        {"ScaledObject", "TriggerAuthentication"} if overlay == "prod" else set()
    )
    assert checked >= expected
    strimzi = [o for o in objects if o["apiVersion"].startswith("kafka.strimzi.io/")]
    assert strimzi and {o["apiVersion"] for o in strimzi} == {STRIMZI}


def test_the_crd_check_rejects_a_misspelt_field():
    """The schema check can fail: v1beta2's `operation` is gone from v1 KafkaUser ACLs."""
    user = of_kind(build("prod"), "KafkaUser")["queenloop-joiner"]
    acl = user["spec"]["authorization"]["acls"][0]
    acl["operation"] = acl.pop("operations")[0]
    _, errors = validate_custom_resources([user])
    assert any("operation" in e for e in errors), errors


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_topics_live_where_the_topic_operator_watches_with_the_services_partitions(overlay):
    objects = build(overlay)
    cfg = config(objects)
    cluster, namespace = strimzi_cluster(objects)
    app_namespaces = {d["metadata"]["namespace"] for d in of_kind(objects, "Deployment").values()}
    assert namespace not in app_namespaces, "KafkaTopics/Users go to the Kafka cluster's namespace"
    topics = of_kind(objects, "KafkaTopic")
    settings = KafkaSettings(
        topic_prefix=cfg["QUEEN_TOPIC_PREFIX"], partitions=int(cfg["QUEEN_PARTITIONS"])
    )
    specs = {s.name: s for s in topic_specs(settings)}
    assert set(topics) == set(specs)
    for name, spec in specs.items():
        topic = topics[name]["spec"]
        assert topic["partitions"] == spec.partitions, f"{name}: QUEEN_PARTITIONS disagrees"
        assert topic["replicas"] >= 3 and topic["config"]["min.insync.replicas"] == 2
        for key, value in spec.config.items():
            assert str(topic["config"][key]) == value, f"{name}: {key}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscaled_deployments_carry_no_replicas_and_scale_at_most_to_the_partitions(overlay):
    objects = build(overlay)
    partitions = int(config(objects)["QUEEN_PARTITIONS"])
    scalers = [
        (o["spec"]["scaleTargetRef"]["name"], o["spec"]["maxReplicas"])
        for o in of_kind(objects, "HorizontalPodAutoscaler").values()
    ] + [
        (o["spec"]["scaleTargetRef"]["name"], o["spec"]["maxReplicaCount"])
        for o in of_kind(objects, "ScaledObject").values()
    ]
    assert scalers
    workloads = of_kind(objects, "Deployment")
    for target, most in scalers:
        assert "replicas" not in workloads[target]["spec"], f"{target}: the autoscaler owns it"
        assert most <= partitions, f"{target}: replicas past {partitions} partitions sit idle"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_connects_over_tls_as_its_own_kafka_user(overlay):
    objects = build(overlay)
    cluster, kafka_namespace = strimzi_cluster(objects)
    users = of_kind(objects, "KafkaUser")
    seen = set()
    for component, d in deployments(objects).items():
        pod = d["spec"]["template"]["spec"]
        assert pod["enableServiceLinks"] is False, f"{component}: service links inject KAFKA_*"
        env = container_env(d, objects)
        bootstrap = f"{cluster}-kafka-bootstrap.{kafka_namespace}.svc:9093"
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == bootstrap, "fully qualified, the TLS port"
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SSL"
        ca = mounted_file(d, env["KAFKA_SSL_CA_LOCATION"])
        assert ca == ("secret", f"{cluster}-cluster-ca-cert", "ca.crt"), component
        cert = mounted_file(d, env["KAFKA_SSL_CERTIFICATE_LOCATION"])
        key = mounted_file(d, env["KAFKA_SSL_KEY_LOCATION"])
        user = f"queenloop-{component}"
        assert cert == ("secret", user, "user.crt") and key == ("secret", user, "user.key")
        assert users[user]["spec"]["authentication"]["type"] == "tls"
        seen.add(user)
        # Credentials are files, never environment values.
        (c,) = pod["containers"]
        assert not [e for e in c.get("env", []) if "valueFrom" in e], component
        for path, (volume, mount) in mounts(d).items():
            if "secret" in volume or "configMap" in volume:
                assert mount.get("readOnly"), f"{component}: {path} mounted writable"
    assert len(seen) == len(deployments(objects)), "one Kafka user per service"
    # The real game server uses queenloop-game in prod; KEDA has its own.
    assert set(users) == {f"queenloop-{s}" for s in SERVICES} | {"queenloop-keda"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_kafka_user_is_granted_exactly_what_its_service_does(overlay):
    objects = build(overlay)
    cfg = config(objects)
    prefix = cfg["QUEEN_TOPIC_PREFIX"]
    users = of_kind(objects, "KafkaUser")
    created = {s.name for s in topic_specs(KafkaSettings(topic_prefix=prefix))}
    named = {prefix + t for topics in (*WRITES.values(), *READS.values()) for t in topics}
    assert created <= named, f"decide who writes and reads {sorted(created - named)}"
    for service in SERVICES:
        expected = set()
        for t in WRITES[service]:
            expected |= {("topic", prefix + t, "literal", op) for op in ("Write", "Describe")}
        for t in READS[service]:
            expected |= {("topic", prefix + t, "literal", op) for op in ("Read", "Describe")}
        if service in GROUPS:
            expected.add(("group", GROUPS[service], "literal", "Read"))
        if service in READERS:
            expected.add(("group", READER_GROUP, "literal", "Describe"))
        if service == "joiner":
            expected |= {
                ("transactionalId", JOINER_TRANSACTIONAL_PREFIX, "prefix", op)
                for op in ("Write", "Describe")
            }
        assert grants(users[f"queenloop-{service}"]) == expected, service
    writers = defaultdict(set)
    for name, user in users.items():
        for rtype, resource, _, op in grants(user):
            assert op != "All" and "*" not in resource, f"{name}: {op} on {resource}"
            if rtype == "topic" and op == "Write":
                writers[resource].add(name)
    assert writers[prefix + "model-versions"] == {"queenloop-trainer"}
    assert writers[prefix + "decisions"] == {"queenloop-inference"}
    assert writers[prefix + "observations"] == writers[prefix + "rewards"] == {"queenloop-game"}
    assert writers[prefix + "experiences"] == {"queenloop-joiner"}
    assert writers[prefix + "rules"] == {"queenloop-game"}
    assert writers[prefix + "promotions"] == {"queenloop-promoter"}
    assert writers[prefix + "dead-letters"] == {f"queenloop-{s}" for s in SERVICES}


def test_keda_reads_the_lag_as_its_own_describe_only_user():
    objects = build("prod")
    cfg = config(objects)
    cluster, _ = strimzi_cluster(objects)
    (scaler,) = of_kind(objects, "ScaledObject").values()
    (trigger,) = scaler["spec"]["triggers"]
    meta = trigger["metadata"]
    assert meta["bootstrapServers"] == cfg["KAFKA_BOOTSTRAP_SERVERS"]
    assert meta["consumerGroup"] == InferenceSettings.group_id
    assert meta["topic"] == cfg["QUEEN_TOPIC_PREFIX"] + "observations"
    assert meta["tls"] == "enable" and "sasl" not in meta
    auth = of_kind(objects, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
    refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    assert refs == {
        "ca": (f"{cluster}-cluster-ca-cert", "ca.crt"),
        "cert": ("queenloop-keda", "user.crt"),
        "key": ("queenloop-keda", "user.key"),
    }
    keda = grants(of_kind(objects, "KafkaUser")["queenloop-keda"])
    assert keda == {
        ("topic", meta["topic"], "literal", "Describe"),
        ("group", meta["consumerGroup"], "literal", "Describe"),
    }


# Who holds which private key (the setting naming its file), and who trusts which public keys.
SIGNERS = {"trainer": "QUEEN_SIGNING_KEY_FILE", "promoter": "QUEEN_PROMOTER_SIGNING_KEY_FILE"}
TRUSTS = {
    "QUEEN_TRUSTED_KEYS": {"trainer", "inference", "promoter"},
    "QUEEN_TRUSTED_PROMOTER_KEYS": {"inference", "promoter"},
}


def key_sources(d: dict[str, Any], env: dict[str, str], setting: str) -> set[tuple[str, str]]:
    """(kind, name) of the Secrets or ConfigMaps mounted where `setting`'s paths point."""
    out = set()
    for path in env[setting].split(","):
        volume, _ = mounts(d)[path]
        kinds = [k for k in ("configMap", "secret") if k in volume]
        assert kinds, f"{setting}: {path} is neither a ConfigMap nor a Secret"
        field = "name" if kinds[0] == "configMap" else "secretName"
        out.add((kinds[0], volume[kinds[0]][field]))
    return out


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_signer_alone_holds_its_own_key_and_the_readers_trust_the_public_keys(overlay):
    objects = build(overlay)
    services = deployments(objects)
    secrets = {}
    for component, d in services.items():
        env = container_env(d, objects)
        for signer, setting in SIGNERS.items():
            if component == signer:
                source = mounted_file(d, env[setting])
                assert source is not None and source[0] == "secret", component
                secrets[signer] = source[1]
            else:
                assert setting not in env, f"{component} holds {signer}'s key"
        for setting, readers in TRUSTS.items():
            if component in readers:
                assert key_sources(d, env, setting), f"{component}: {setting}"
    assert set(secrets) == set(SIGNERS)
    assert secrets["trainer"] != secrets["promoter"], "the trainer could promote its own versions"
    for component, d in services.items():
        for signer, secret in secrets.items():
            if component != signer:
                for volume, _ in mounts(d).values():
                    assert volume.get("secret", {}).get("secretName") != secret, component
    # Promotions are trusted under the promoter's public keys, never the trainer's.
    inference = services["inference"]
    env = container_env(inference, objects)
    promoters = key_sources(inference, env, "QUEEN_TRUSTED_PROMOTER_KEYS")
    assert promoters.isdisjoint(key_sources(inference, env, "QUEEN_TRUSTED_KEYS"))
    promoter = services["promoter"]
    promoter_env = container_env(promoter, objects)
    assert key_sources(promoter, promoter_env, "QUEEN_TRUSTED_PROMOTER_KEYS") == promoters


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_inference_serves_only_what_the_promoter_promotes(overlay):
    """Gated serving on both sides, and the promoter runs as one replica, one at a time."""
    objects = build(overlay)
    services = deployments(objects)
    for component in ("inference", "promoter"):
        env = container_env(services[component], objects)
        assert env["QUEEN_SERVING_MODE"] == "gated", component
    promoter = services["promoter"]
    assert promoter["spec"]["replicas"] == 1
    assert promoter["spec"]["strategy"]["type"] == "Recreate", "two would promote at once"
    budgets = {
        b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for b in of_kind(objects, "PodDisruptionBudget").values()
    }
    assert budgets == {d["metadata"]["name"] for d in of_kind(objects, "Deployment").values()} - {
        "queenloop-game"
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_metrics_are_scraped_only_from_the_monitoring_namespace(overlay):
    objects = build(overlay)
    (policy,) = of_kind(objects, "NetworkPolicy").values()
    selector = policy["spec"]["podSelector"]["matchLabels"]
    for d in of_kind(objects, "Deployment").values():
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), d["metadata"]["name"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    for rule in policy["spec"]["ingress"]:
        assert rule["from"] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ]
        assert rule["ports"] == [{"port": 9100, "protocol": "TCP"}]


def test_a_config_change_rolls_every_pod(tmp_path):
    """The ConfigMap is generated with a content hash: a new value is a new pod template."""
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    env_file = copy / "k8s" / "base" / "queenloop.env"
    before = build_dir(copy / "k8s" / "overlays" / "prod")
    text = env_file.read_text()
    env_file.write_text(text.replace("QUEEN_LOG_LEVEL=INFO", "QUEEN_LOG_LEVEL=DEBUG"))
    after = build_dir(copy / "k8s" / "overlays" / "prod")
    refs = {}
    for name, objects in (("before", before), ("after", after)):
        refs[name] = {
            d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["envFrom"]
            for d in of_kind(objects, "Deployment").values()
        }
    assert config(after)["QUEEN_LOG_LEVEL"] == "DEBUG"
    assert set(refs["before"]) == set(refs["after"])
    for name in refs["before"]:
        assert refs["before"][name] != refs["after"][name], f"{name} would not roll"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_trainer_checkpoints_to_its_volume(overlay):
    objects = build(overlay)
    trainer = deployments(objects)["trainer"]
    path = container_env(trainer, objects)["QUEEN_TRAINER_CHECKPOINT_DIR"]
    volume, mount = mounts(trainer)[posixpath.normpath(path)]
    assert "persistentVolumeClaim" in volume and not mount.get("readOnly")
