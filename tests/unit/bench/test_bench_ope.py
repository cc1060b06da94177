"""A smoke of the off-policy evaluation benchmark: every step runs and prints its time."""

from bench import ope


def test_the_ope_benchmark_times_every_step_of_a_small_window(capsys):
    ope.main(64)
    out = capsys.readouterr().out
    assert "window of 64 rows" in out
    for step in ("gate expected table (q)", "ips", "snips", "doubly robust"):
        line = next(line for line in out.splitlines() if line.strip().startswith(step))
        assert float(line.split()[-1]) >= 0.0
