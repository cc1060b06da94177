"""The configuration reference is the settings classes, whole, and --help says the same."""

import subprocess
import sys
from pathlib import Path

from runtime.reference import render, settings
from runtime.settings import known_variables

DOC = Path(__file__).parents[3] / "docs" / "configuration.md"


def test_docs_configuration_is_the_generated_reference():
    assert DOC.read_text() == render(), (
        "regenerate: python -m runtime.reference > docs/configuration.md"
    )


def test_every_variable_a_setting_reads_is_in_the_reference_with_a_meaning():
    listed = {s.variable: s for s in settings()}
    assert known_variables() <= set(listed), sorted(known_variables() - set(listed))
    for s in listed.values():
        assert s.meaning, f"{s.variable} ({s.owner}) has no comment saying what it means"


def test_help_shows_each_flag_with_its_variable_default_and_meaning():
    out = subprocess.run(
        [sys.executable, "-m", "producers.game", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert text.startswith("usage: python -m producers.game")
    assert (
        "--speed SPEED QUEEN_GAME_SPEED (default 1; >= 0.001): game seconds per wall second" in text
    )
    assert "docs/configuration.md" in text
