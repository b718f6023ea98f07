"""The Label Studio contract: labelling config, coordinates, pre-annotations, reading annotations back.

Pure functions, no server: ``labeling.studio`` uses them against a real Label Studio.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

from footfall.common.yolo import YoloBox

FROM_NAME, TO_NAME = "label", "image"


class LabelMismatch(ValueError):
    """The project's labels and the model's classes differ; the message lists both and the fix."""


def label_config(classes: list[str]) -> str:
    """The object-detection labelling config for ``classes`` (the contract with annotators)."""
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be a non-empty list without repeats, got {classes}")
    labels = "\n".join(f"    <Label value={quoteattr(c)}/>" for c in classes)
    return (
        "<View>\n"
        f'  <Image name="{TO_NAME}" value="$image" zoom="true" zoomControl="true"/>\n'
        f'  <RectangleLabels name="{FROM_NAME}" toName="{TO_NAME}" strokeWidth="2">\n'
        f"{labels}\n"
        "  </RectangleLabels>\n"
        "</View>\n"
    )


def labels_of(config: str) -> list[str]:
    """The rectangle label values of a labelling config, in order ([] if it has none or is not XML)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(config)
    except ET.ParseError:
        return []
    return [label.get("value", "") for block in root.iter("RectangleLabels") for label in block.iter("Label")]


def check_labels(project_labels: list[str], classes: list[str]) -> None:
    if list(project_labels) != list(classes):
        raise LabelMismatch(
            f"Label Studio project labels {project_labels} differ from the model's classes {classes}. "
            "Fix: update the project's labelling config (footfall labeling setup --update) or configure "
            "the classes the project was made for"
        )


def yolo_to_ls(cx: float, cy: float, w: float, h: float) -> tuple[float, float, float, float]:
    """YOLO normalised centre/size → Label Studio percent top-left x, y, width, height."""
    return (cx - w / 2) * 100, (cy - h / 2) * 100, w * 100, h * 100


def ls_to_yolo(x: float, y: float, width: float, height: float) -> tuple[float, float, float, float]:
    """Label Studio percent top-left x, y, width, height → YOLO normalised centre/size, clipped to the image."""
    x1, y1 = max(0.0, x / 100), max(0.0, y / 100)
    x2, y2 = min(1.0, (x + width) / 100), min(1.0, (y + height) / 100)
    return (x1 + x2) / 2, (y1 + y2) / 2, max(0.0, x2 - x1), max(0.0, y2 - y1)


def prediction(
    boxes: list[dict[str, Any]], classes: list[str], width: int, height: int, model_version: str
) -> dict[str, Any]:
    """A Label Studio prediction from capture boxes (``class``, ``confidence``, ``xyxy`` in pixels)."""
    result: list[dict[str, Any]] = []
    for n, b in enumerate(boxes):
        if b["class"] not in classes:
            raise LabelMismatch(f"captured class {b['class']!r} is not among the project's labels {classes}")
        x1, y1, x2, y2 = b["xyxy"]
        x, y, w, h = yolo_to_ls((x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height)
        result.append(
            {
                "id": f"p{n}",
                "from_name": FROM_NAME,
                "to_name": TO_NAME,
                "type": "rectanglelabels",
                "original_width": width,
                "original_height": height,
                "image_rotation": 0,
                "score": round(float(b["confidence"]), 4),
                "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": [b["class"]]},
            }
        )
    score = min((r["score"] for r in result), default=1.0)
    return {"model_version": model_version, "score": score, "result": result}


def boxes_of(annotation_result: list[dict[str, Any]], classes: list[str]) -> list[YoloBox]:
    """YOLO boxes of one annotation's result; a label outside ``classes`` is a ``LabelMismatch``."""
    out = []
    for region in annotation_result:
        if region.get("type") != "rectanglelabels":
            continue
        value = region["value"]
        label = value["rectanglelabels"][0]
        if label not in classes:
            raise LabelMismatch(f"annotation label {label!r} is not among the classes {classes}")
        cx, cy, w, h = ls_to_yolo(value["x"], value["y"], value["width"], value["height"])
        if w > 0 and h > 0:
            out.append(YoloBox(classes.index(label), cx, cy, w, h))
    return out


def final_annotation(task: dict[str, Any]) -> dict[str, Any] | None:
    """The annotation to export: the latest one that was not cancelled (skipped); None if none."""
    done = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
    if not done:
        return None
    return max(done, key=lambda a: (a.get("updated_at") or a.get("created_at") or "", a.get("id", 0)))
