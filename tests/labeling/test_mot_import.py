"""A labelled video with a class per identity becomes a dataset version (the fixed held-out set)."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from footfall.labeling.mot_import import identity_classes
from footfall.registry.artefacts import Ref
from footfall.registry.datasets import DatasetStore
from footfall.registry.signing import Trust
from footfall.registry.storage import FileStorage
from tests.conftest import DATA, PETS_GT, VTEST, footfall_cmd

IDENTITIES = DATA / "mot" / "PETS09-S2L1" / "identity_classes.csv"


@pytest.mark.parametrize(
    ("unsure", "want"),
    [
        # 12 male, 4 female, 3 unsure: 1 and 19 lean male, 16 leans female
        ("lean", {"male_adult": 14, "female_adult": 5}),
        ("drop", {"male_adult": 12, "female_adult": 4, None: 3}),
    ],
)
def test_identity_classes_of_pets(unsure: str, want: dict) -> None:
    classes = identity_classes(IDENTITIES, unsure=unsure)
    assert Counter(classes.values()) == want and len(classes) == 19
    assert (classes[1], classes[16], classes[19]) == (
        ("male_adult", "female_adult", "male_adult") if unsure == "lean" else (None, None, None)
    )


@pytest.mark.slow
def test_import_a_held_out_set_from_the_video(tmp_path: Path, trust: Trust) -> None:
    run = subprocess.run(
        footfall_cmd(
            "labeling", "import-mot", str(VTEST), str(PETS_GT), "--identity-classes", str(IDENTITIES),
            "--val-from-frame", "601", "--split", "val", "--name", "pets-heldout",
            "--registry", f"file://{tmp_path / 'registry'}", "--sign-key", str(trust.sign_key),
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    manifest = DatasetStore(FileStorage(tmp_path / "registry"), trust).manifest(Ref.parse("pets-heldout:1"))
    assert manifest.names == ["child", "female_adult", "male_adult"] and set(manifest.splits) == {"val"}
    val = manifest.splits["val"]
    assert val["images"] == 39  # frames 601, 606, …, 791
    assert val["class_counts"]["child"] == 0 and val["class_counts"]["female_adult"] > 0
    assert val["class_counts"]["male_adult"] > val["class_counts"]["female_adult"]
