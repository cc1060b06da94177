"""Session files (Avro and JSON lines) round-trip the contract's records; bad lines are reported;
a replay's rewriting moves every record to a new epoch and new ids, consistently."""

import json

import fastavro
import pytest

from producers.replay.__main__ import parse_args
from producers.replay.rewrite import Rewriter
from producers.replay.session import Bad, SessionWriter, read
from schemas.codec import load_schema
from schemas.records import Experience
from tests import samples


@pytest.mark.parametrize("name", ["s.avro", "s.jsonl"])
def test_a_session_file_reads_back_the_records_written(tmp_path, name):
    records = [samples.observation(1, 0), samples.decision(1, 0), samples.reward(1, 0)]
    writer = SessionWriter(tmp_path / name)
    for record in records:
        writer.write(record)
    writer.close()
    assert list(read(tmp_path / name)) == records


def test_bad_lines_are_reported_with_their_place_and_the_rest_is_read(tmp_path):
    path = tmp_path / "s.jsonl"
    good = samples.decision(2, 1)
    lines = [
        "not json",
        json.dumps({"type": "Reward", "record": {"seq": 1}}),
        json.dumps({"type": "Nope", "record": {}}),
        json.dumps({"type": "Decision", "record": good.to_avro()}),
        json.dumps({"type": "Decision", "record": {**good.to_avro(), "confidence": 7.0}}),
    ]
    path.write_text("\n".join(lines) + "\n")
    out = list(read(path))
    assert out[3] == good
    assert [b.where for b in out if isinstance(b, Bad)] == [f"{path}:{n}" for n in (1, 2, 3, 5)]


def test_an_avro_file_of_one_record_type_is_read_and_a_non_avro_file_is_reported(tmp_path):
    path = tmp_path / "experiences.avro"
    experience = samples.experience(3, 2)
    with open(path, "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(load_schema(Experience)), [experience.to_avro()])
    assert list(read(path)) == [experience]
    (tmp_path / "x.avro").write_bytes(b"garbage")
    [bad] = list(read(tmp_path / "x.avro"))
    assert isinstance(bad, Bad) and "not an Avro object container" in bad.reason


def test_a_replay_is_a_new_epoch_with_new_ids_that_still_name_each_other():
    obs = samples.observation(1, 4, epoch="live")
    decision = samples.decision(1, 4, observation_id=obs.observation_id, epoch="live")
    reward = samples.reward(
        1, 4, observation_id=obs.observation_id, decision_id=decision.decision_id, epoch="live"
    )
    rewrite = Rewriter(run="r1")
    o, d, r = rewrite(obs), rewrite(decision), rewrite(reward)
    assert o.epoch == d.epoch == r.epoch != "live" and o.epoch.startswith("replay-r1-")
    assert d.observation_id == o.observation_id == r.observation_id != obs.observation_id
    assert r.decision_id == d.decision_id != decision.decision_id
    assert (o.seq, o.territory_id) == (obs.seq, obs.territory_id)
    assert Rewriter(run="r2")(decision).decision_id != d.decision_id  # another replay, other ids
    assert Rewriter(keep=True)(decision) == decision
    o.validate()
    d.validate()


def test_replay_options_are_checked(tmp_path, capsys):
    for argv in (["missing.jsonl"], [str(tmp_path), "--speed", "-1"]):
        with pytest.raises(SystemExit) as exit_:
            parse_args(argv)
        assert exit_.value.code == 2
    (tmp_path / "s.jsonl").write_text("")
    with pytest.raises(SystemExit):
        parse_args([str(tmp_path / "s.jsonl"), "--only", "model-versions"])
    assert "not among" in capsys.readouterr().err


def test_make_run_refuses_a_recording_into_a_missing_directory(tmp_path, capsys):
    from runtime.run import parse_args as run_args

    assert run_args(["--record", str(tmp_path / "s.avro")]).record == str(tmp_path / "s.avro")
    with pytest.raises(SystemExit):
        run_args(["--record", str(tmp_path / "missing" / "s.avro")])
    assert "its directory does not exist" in capsys.readouterr().err
