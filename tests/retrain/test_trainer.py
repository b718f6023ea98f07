from __future__ import annotations

from pathlib import Path

import pytest

from footfall.retrain.config import TrainSettings
from footfall.retrain.trainer import TrainingError, read_results, stage_commands, train_python


def test_stages_on_cpu_and_on_several_gpus() -> None:
    one = stage_commands(Path("/py"), Path("/s.json"), gpus=0)
    assert [name for name, _ in one] == ["seed", "train", "finish"]
    assert one[1][1] == ["/py", "-m", "footfall.retrain.yolo_train", "train", "/s.json"]
    four = dict(stage_commands(Path("/py"), Path("/s.json"), gpus=TrainSettings(device="0,1,2,3").gpus))
    assert four["train"][:4] == ["/py", "-m", "torch.distributed.run", "--nproc_per_node=4"]
    assert four["seed"] == one[0][1]  # seeding and the final conversion run once, not once per GPU


def test_missing_training_environment_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match=r"training environment not found: .*Fix: run scripts/setup.sh"):
        train_python(TrainSettings(python=tmp_path / "nope" / "python"))


def test_read_results_parses_yolov5_csv(tmp_path: Path) -> None:
    csv = tmp_path / "results.csv"
    csv.write_text("  epoch,  metrics/mAP_0.5\n  0,  0.5\n  1,  0.75\n")
    assert read_results(csv) == [{"epoch": 0.0, "metrics/mAP_0.5": 0.5}, {"epoch": 1.0, "metrics/mAP_0.5": 0.75}]
    assert read_results(tmp_path / "absent.csv") == []


def test_new_classes_start_from_the_parent_class_of_the_same_name_or_person() -> None:
    from footfall.retrain.yolo_train import seed_sources

    coco = ["person", "bicycle", "car"]
    assert seed_sources(coco, ["child", "female_adult", "male_adult"], {}) == [0, 0, 0]
    assert seed_sources(coco, ["car", "child"], {"child": "person"}) == [2, 0]
    with pytest.raises(SystemExit, match=r"cannot seed class 'child': the parent model has no 'person'"):
        seed_sources(["cat", "dog"], ["child"], {})


def test_the_candidate_is_the_checkpoint_asked_for(tmp_path: Path) -> None:
    from footfall.retrain.yolo_train import chosen_checkpoint

    (tmp_path / "last.pt").write_bytes(b"last")
    assert chosen_checkpoint(tmp_path, "best") == tmp_path / "last.pt"  # no best written (e.g. --noval)
    (tmp_path / "best.pt").write_bytes(b"best")
    assert chosen_checkpoint(tmp_path, "best") == tmp_path / "best.pt"
    assert chosen_checkpoint(tmp_path, "last") == tmp_path / "last.pt"
    assert TrainSettings().checkpoint == "best"  # the product's default is unchanged
