"""Harvest → Label Studio → annotations → export, against a real Label Studio server.

Frames are really captured from vtest.avi by the edge pipeline, uploaded with `edge.sync` to a capture
store, harvested, annotated through the API by a simulated annotator who answers from the PETS ground
truth, and exported to a dataset version that an independent checker (ultralytics) accepts.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from footfall.common.mot import load_mot
from footfall.common.yolo import read_labels
from footfall.edge.capture import Spool
from footfall.edge.sync import sync_spool
from footfall.harvest.config import HarvestConfig
from footfall.harvest.run import run_harvest
from footfall.labeling.config import StudioSettings
from footfall.labeling.contract import LabelMismatch, yolo_to_ls
from footfall.labeling.export import export_project
from footfall.labeling.studio import Studio
from footfall.registry.artefacts import Ref
from footfall.registry.datasets import DatasetStore
from footfall.registry.signing import Trust
from footfall.registry.storage import open_storage
from tests.conftest import PETS_GT, VTEST
from tests.edge.test_capture import capture_run
from tests.labelstudio_server import LabelStudioServer, label_studio
from tests.tcp_proxy import CuttableProxy

pytestmark = pytest.mark.slow
W, H = 480, 360


@pytest.fixture(scope="module")
def ls() -> Iterator[LabelStudioServer]:
    with label_studio() as server:
        yield server


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory, yolov5n_onnx: Path) -> str:
    """Real captures of the PETS clip (start time 1.7e9 = 2023-11-14), uploaded as store-1/plaza."""
    root = tmp_path_factory.mktemp("captures")
    capture_run(VTEST, root / "spool", yolov5n_onnx, max_per_minute=60, background_share=1.0)
    url = f"file://{root / 'uploaded'}"
    sync_spool(Spool(root / "spool", 1e12, 1e12), open_storage(url), "store-1")
    return url


def config(ls: LabelStudioServer, captures: str, tmp_path: Path, **over: object) -> HarvestConfig:
    fields: dict[str, object] = {
        "captures": captures,
        "classes": ["person"],
        "budget": 12,
        "report_dir": tmp_path / "reports",
        "studio": StudioSettings(url=ls.url, project=f"pets-{tmp_path.name}", files_root=ls.files_root),
    }
    return HarvestConfig.model_validate({**fields, **over})


WINDOW = (1.7e9 - 10, 1.7e9 + 3600)


def gt_result(frame: int, gt: np.ndarray) -> tuple[list[dict], list[tuple[float, float, float, float]]]:
    """What the simulated annotator draws for ``frame``: every ground-truth person, clipped."""
    result, pixels = [], []
    for _, _, x, y, w, h in gt[gt[:, 0] == frame]:
        x1, y1, x2, y2 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        lx, ly, lw, lh = yolo_to_ls((x1 + x2) / 2 / W, (y1 + y2) / 2 / H, (x2 - x1) / W, (y2 - y1) / H)
        result.append(
            {
                "from_name": "label",
                "to_name": "image",
                "type": "rectanglelabels",
                "original_width": W,
                "original_height": H,
                "value": {"x": lx, "y": ly, "width": lw, "height": lh, "rotation": 0, "rectanglelabels": ["person"]},
            }
        )
        pixels.append((x1, y1, x2, y2))
    return result, pixels


def test_harvest_annotate_export_round_trip(ls: LabelStudioServer, captures: str, tmp_path: Path, trust: Trust) -> None:
    from ultralytics.data.utils import verify_image_label

    cfg = config(ls, captures, tmp_path)
    studio = Studio(ls.url, ls.token)
    report = run_harvest(cfg, *WINDOW, studio=studio)
    assert report["chosen"] == 12 and report["pushed"] == 12 and report["pool"] > 30
    assert sum(report["per_store"]["store-1"]["reasons"].values()) == 12

    # pre-annotations are on the tasks, with the model version and scores
    project = studio.ensure_project(cfg.studio.project, cfg.classes)
    tasks = list(studio.tasks(project))
    assert len(tasks) == 12
    with_boxes = [t for t in tasks if t["predictions"] and t["predictions"][0]["result"]]
    assert with_boxes
    for task in with_boxes:
        pred = task["predictions"][0]
        assert pred["model_version"] == "test" and 0 < pred["score"] <= 1
        assert all(0 < r["score"] <= 1 for r in pred["result"])

    # re-running the same window changes nothing: no duplicate task
    again = run_harvest(cfg, *WINDOW, studio=studio)
    assert again["pushed"] == 0 and again["already_in_project"] == 12
    assert len(list(studio.tasks(project))) == 12
    # an import the server committed after a timeout and the retry sent again: two tasks land twice;
    # the next harvest deletes the copies before it reads what is there
    twice = [{"data": t["data"]} for t in tasks[:2]]
    studio.client.projects.import_tasks(id=project, request=twice, return_task_ids=True)  # type: ignore[arg-type]
    assert len(list(studio.tasks(project))) == 14
    again = run_harvest(cfg, *WINDOW, studio=studio)
    assert again["pushed"] == 0 and again["already_in_project"] == 12
    assert sorted(t["id"] for t in studio.tasks(project)) == sorted(t["id"] for t in tasks)  # the first copies

    # the annotator: skips one task, marks one as "nobody here", draws ground truth on the rest
    gt = load_mot(PETS_GT)
    drawn: dict[str, list[tuple[float, float, float, float]]] = {}
    for n, task in enumerate(sorted(tasks, key=lambda t: t["id"])):
        frame = int(task["data"]["frame"]) + 1  # the capture counts frames from 0, gt.txt from 1
        if n == 0:
            studio.client.annotations.create(id=task["id"], result=[], was_cancelled=True)
            continue
        result, pixels = ([], []) if n == 1 else gt_result(frame, gt)
        studio.client.annotations.create(id=task["id"], result=result)
        drawn[task["data"]["item_id"]] = pixels

    store = DatasetStore(open_storage(f"file://{tmp_path / 'registry'}"), trust)
    manifest = export_project(
        studio, project, ["person"], ls.files_root, store, "pets-labels", block_s=5, val_share=0.5
    )
    assert manifest.sources["tasks"]["cancelled"] == 1
    assert manifest.sources["stores"] == ["store-1"] and manifest.sources["label_studio"]["project"] == project
    folder, manifest = store.fetch(Ref("pets-labels", version=manifest.version), tmp_path / "fetched")
    exported = sorted((folder / "images").rglob("*.jpg"))
    assert len(exported) == 11  # the cancelled task is not exported
    splits = Counter(p.parent.name for p in exported)
    assert splits["train"] and splits["val"], splits  # 5 s blocks of a 79 s clip fall on both sides
    backgrounds = 0
    for image in exported:
        label = folder / "labels" / image.parent.name / f"{image.stem}.txt"
        checked = verify_image_label((str(image), str(label), "", False, 1, 0, 0, False))
        assert checked[0] is not None and checked[8] == 0, checked[-1]  # ultralytics: image and label valid
        boxes = read_labels(label, 1)
        backgrounds += not boxes
        got = sorted(b.xyxy(W, H) for b in boxes)
        want = sorted(drawn[image.stem])
        assert len(got) == len(want)
        assert np.abs(np.array(got).reshape(-1, 4) - np.array(want).reshape(-1, 4)).max(initial=0) <= 1.0
    assert (
        backgrounds
        == 1
        == manifest.splits.get("train", {}).get("backgrounds", 0) + manifest.splits.get("val", {}).get("backgrounds", 0)
    )


def test_label_mismatch_names_both_sets(ls: LabelStudioServer, captures: str, tmp_path: Path) -> None:
    studio = Studio(ls.url, ls.token)
    studio.ensure_project(f"pets-{tmp_path.name}", ["child", "female_adult", "male_adult"])
    with pytest.raises(LabelMismatch, match=r"\['child', 'female_adult', 'male_adult'\] differ from .* \['person'\]"):
        run_harvest(config(ls, captures, tmp_path), *WINDOW, studio=studio)


def test_an_outage_mid_push_is_retried_and_resumed(
    ls: LabelStudioServer, captures: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = CuttableProxy("127.0.0.1", ls.port)
    try:
        studio = Studio(proxy.url, ls.token, retries=8, backoff_s=0.5, timeout_s=10)
        cfg = config(ls, captures, tmp_path, budget=60, push_batch=4)
        original = studio.client.projects.import_tasks
        calls: list[int] = []

        def import_with_outage(**kwargs: object) -> object:
            calls.append(len(kwargs["request"]))  # type: ignore[arg-type]
            if len(calls) == 2:  # the second batch: the link drops 50 ms into the request, for 3 s
                threading.Timer(0.05, proxy.cut).start()
                threading.Timer(3.0, proxy.restore).start()
            return original(**kwargs)  # type: ignore[arg-type]

        studio.client.projects.import_tasks = import_with_outage  # type: ignore[method-assign]
        report = run_harvest(cfg, *WINDOW, studio=studio)
        project = Studio(ls.url, ls.token).ensure_project(cfg.studio.project, cfg.classes)
        ids = [t["data"]["item_id"] for t in Studio(ls.url, ls.token).tasks(project)]
        assert report["chosen"] > 8 and len(calls) >= 3, calls  # several batches, one of them cut
        assert len(ids) == len(set(ids)) == report["chosen"]  # every chosen frame once, none twice
        assert any("import failed" in r.getMessage() for r in caplog.records)  # the cut was felt and retried

        # reading the tasks back page by page, with the link cut between the first page and the second
        reader = Studio(proxy.url, ls.token, retries=8, backoff_s=0.5, timeout_s=10)
        first_page = reader.client.tasks.list

        def list_then_cut(**kwargs: object) -> object:
            page = first_page(**kwargs)  # type: ignore[arg-type]
            proxy.cut()
            threading.Timer(2.0, proxy.restore).start()
            return page

        reader.client.tasks.list = list_then_cut  # type: ignore[method-assign]
        caplog.clear()
        read = [t["data"]["item_id"] for t in reader.tasks(project, page_size=5)]
        assert sorted(read) == sorted(ids)
        assert any("page 2" in r.getMessage() for r in caplog.records)  # the cut page was retried
    finally:
        proxy.close()


def test_label_studio_down_during_the_export_job_then_the_rerun_exports_once(
    ls: LabelStudioServer, captures: str, tmp_path: Path, trust: Trust
) -> None:
    """The export command (what the scheduler's export job runs) with Label Studio unreachable: one clear
    error, no dataset version; run again once it is back: one version; and again: still that one."""
    import os
    import subprocess

    import yaml

    from tests.conftest import footfall_cmd

    cfg = config(ls, captures, tmp_path, budget=6)
    studio = Studio(ls.url, ls.token)
    run_harvest(cfg, *WINDOW, studio=studio)
    project = studio.ensure_project(cfg.studio.project, cfg.classes)
    gt = load_mot(PETS_GT)
    for task in studio.tasks(project):
        studio.client.annotations.create(id=task["id"], result=gt_result(int(task["data"]["frame"]) + 1, gt)[0])

    proxy = CuttableProxy("127.0.0.1", ls.port)
    try:
        harvest = {
            "classes": ["person"],
            "captures": captures,
            "studio": {"url": proxy.url, "project": cfg.studio.project, "files_root": str(ls.files_root)},
        }
        path = tmp_path / "harvest.yaml"
        path.write_text(yaml.safe_dump({"harvest": harvest}))
        registry = f"file://{tmp_path / 'registry'}"
        cmd = footfall_cmd(
            "labeling", "export", "--config", str(path), "--dataset", "store-labels", "--sign-key", str(trust.sign_key)
        )
        env = {**os.environ, "LABEL_STUDIO_TOKEN": ls.token}

        def export() -> subprocess.CompletedProcess[str]:
            return subprocess.run([*cmd, "--registry", registry], capture_output=True, text=True, env=env, timeout=300)

        proxy.cut()  # Label Studio unreachable for the whole job
        down = export()
        assert down.returncode == 1, down.stdout + down.stderr
        assert "Label Studio" in down.stderr and "Traceback" not in down.stderr, down.stderr
        store = DatasetStore(open_storage(registry), trust)
        assert store.versions("store-labels") == [], "nothing published from a failed export"

        proxy.restore()
        up = export()
        assert up.returncode == 0, up.stderr
        assert store.versions("store-labels") == [1]
        again = export()
        assert again.returncode == 0 and store.versions("store-labels") == [1], "the same annotations: one version"
    finally:
        proxy.close()
