"""README.md stays true: its configuration reference is the one the code generates."""

from pathlib import Path

from footfall.config_reference import render_into

README = Path(__file__).resolve().parents[1] / "README.md"


def test_config_reference_is_current() -> None:
    text = README.read_text()
    assert render_into(text) == text, "run: python -m footfall.config_reference --write README.md"


def test_readme_names_the_commands_ci_runs() -> None:
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in text and "bash scripts/test.sh" in ci
