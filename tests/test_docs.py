"""The docs stay true: configuration references are the ones the code generates; README stays short
and names the command CI runs; every page it points to exists."""

import re
from pathlib import Path

import pytest

from footfall.config_reference import PAGES, render_into

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


@pytest.mark.parametrize("page", sorted(PAGES))
def test_config_reference_is_current(page: str) -> None:
    text = (ROOT / page).read_text()
    assert render_into(text, PAGES[page]) == text, "run: python -m footfall.config_reference --write"


def test_readme_names_the_commands_ci_runs() -> None:
    text = README.read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in text and "bash scripts/test.sh" in ci


def test_readme_is_for_users_and_its_links_resolve() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert {"docs/installer.md", "docs/store-owner.md", "docs/annotator.md", "docs/operator.md"} <= set(links)
    assert all((ROOT / link).exists() for link in links), links
