"""The held-out set takes no part in training or checkpoint selection: a leak in any split is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from footfall.registry.datasets import DatasetStore
from footfall.registry.signing import Trust
from footfall.registry.storage import open_storage
from footfall.retrain.config import load_retrain_config
from footfall.retrain.cycle import Cycle, CycleError
from tests.conftest import DATA

PETS = DATA / "yolo" / "pets09_s2l1_person"


@pytest.fixture
def keys(signing_keys: tuple[Path, Path]) -> dict[str, str]:
    return {"sign_key": str(signing_keys[0]), "verify_key": str(signing_keys[1])}


def cycle(tmp_path: Path, train: str, keys: dict[str, str]) -> Cycle:
    url = f"file://{tmp_path / 'registry'}"
    store = DatasetStore(open_storage(url), Trust(Path(keys["sign_key"]), Path(keys["verify_key"])))
    store.publish("pets-person", PETS)  # train + val: its val split is the held-out images
    store.publish("pets-train", PETS, splits=("train",))
    store.publish("pets-heldout", PETS, splits=("val",))
    doc = {
        "registry": url,
        "classes": ["person"],
        "train_datasets": [train],
        "heldout": "pets-heldout:1",
        "signing": keys,
    }
    (tmp_path / "retrain.yaml").write_text(yaml.safe_dump({"retrain": {**doc, "work_dir": str(tmp_path / "w")}}))
    return Cycle(load_retrain_config(tmp_path / "retrain.yaml"))


def test_held_out_images_in_a_training_sets_val_split_are_refused(tmp_path: Path, keys: dict[str, str]) -> None:
    with pytest.raises(CycleError, match=r"39 images of training set pets-person:1 are in the held-out set"):
        cycle(tmp_path, "pets-person", keys).fetch_datasets()


def test_a_training_set_apart_from_the_held_out_set_is_accepted(tmp_path: Path, keys: dict[str, str]) -> None:
    train, (_, held) = cycle(tmp_path, "pets-train", keys).fetch_datasets()
    assert [m.ref for _, m in train] == ["pets-train:1"] and held.ref == "pets-heldout:1"
    assert set(held.splits) == {"val"} and set(train[0][1].splits) == {"train"}
