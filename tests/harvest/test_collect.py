"""The capture table the harvest selects from: what each column is made of."""

from __future__ import annotations

import numpy as np

from footfall.common.capture import CaptureKey
from footfall.harvest.collect import Item, to_records


def _item(n: int, count_risk: list[dict]) -> Item:
    meta = {
        "session": "s1",
        "boxes": [{"class": "male_adult", "confidence": 0.9, "class_probs": [0.0, 0.1, 0.9], "track_id": 1}],
        "count_risk": count_risk,
    }
    return Item(CaptureKey("s1", "door", "2026-11-24", f"door-{n}"), 1.7e9 + n, meta)


def test_count_risk_is_the_share_of_risk_kinds_a_frames_crossings_carry() -> None:
    items = [
        _item(0, []),
        _item(1, [{"line": "a", "track_id": 1, "risks": ["short_track"]}]),
        _item(
            2,
            [
                {"line": "a", "track_id": 1, "risks": ["short_track"]},
                {"line": "b", "track_id": 1, "risks": ["short_track", "low_conf"]},
            ],
        ),
        _item(3, [{"line": "a", "track_id": 1, "risks": ["short_track", "low_conf", "recrossed", "close_vote"]}]),
    ]
    del items[0].meta["count_risk"]  # captured by a device from before count moments: no risk, not an error
    records = to_records(items, ["child", "female_adult", "male_adult"])
    assert np.allclose(records.count_risk, [0.0, 1 / 3, 2 / 3, 1.0])
