"""Names become paths (the capture spool, the upload keys captures/STORE/CAMERA/…): '.' and '..' must
not pass, or a camera named '..' makes the spool's sweep reach the folder above it."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.common.config import ConfigError
from footfall.edge.config import load_config
from tests.conftest import VTEST


@pytest.mark.parametrize(
    ("camera", "store"),
    [("..", "shop"), (".", "shop"), (".hidden", "shop"), ("door", ".."), ("door", ".")],
)
def test_dot_names_are_refused(tmp_path: Path, camera: str, store: str) -> None:
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(
        f"cameras:\n  - name: '{camera}'\n    source: {VTEST}\n    lines:\n"
        "      - name: door\n        points: [[240, 0], [240, 360]]\n"
        f"capture:\n  enabled: true\n  sync:\n    url: file://{tmp_path / 'bucket'}\n    store: '{store}'\n"
    )
    with pytest.raises(ConfigError, match=r"(cameras\[0\]\.name|capture\.sync\.store)"):
        load_config(cfg)


def test_ordinary_names_still_pass(tmp_path: Path) -> None:
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(
        f"cameras:\n  - name: door-1.left\n    source: {VTEST}\n    lines:\n"
        "      - name: v2.in_out\n        points: [[240, 0], [240, 360]]\n"
    )
    assert load_config(cfg).cameras[0].name == "door-1.left"


@pytest.mark.parametrize(
    "key",
    [
        "captures/../door/2026-11-23/done/x.json",
        "captures/shop/../2026-11-23/done/x.json",
        "captures/shop/door/2026-11-23/done/...json",
        "captures/shop/door/../done/x.json",
        "captures/shop/door/2026-11-23/done/.hidden.json",
    ],
)
def test_a_capture_key_with_path_parts_is_no_item(key: str) -> None:
    """A store writes the capture keys; the harvest turns their parts into local paths."""
    from footfall.common.capture import CaptureKey

    assert CaptureKey.parse_done(key) is None
    assert CaptureKey.parse_done("captures/shop/door/2026-11-23/done/20261123T100000-ab12.json") is not None
