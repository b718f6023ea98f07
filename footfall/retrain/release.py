"""Release: from canary to production, only after the canary stores ran the candidate well.

The retrain cycle moves ``canary`` to an accepted candidate and the Ansible rollout puts it on the
canary stores. ``footfall retrain release`` then watches those stores for a burn-in period and decides:

- **healthy**: every ``/health`` answer during the burn-in is 200 with status ok, from every canary;
- **the right model**: each reports exactly the candidate (``NAME:VERSION``) on every camera;
- **fast enough**: every camera's fps stays at or above ``release.min_fps``;
- **counts hold**: on the labelled sequences of the gate, the candidate's mean count error is at most
  ``release.max_count_error_increase`` points above the model it replaces, or it gets at most one
  crossing more wrong (``gate.count_regressions``: same footage, same counter, both recorded in the
  candidate's metadata by the gate).

Pass: ``production`` moves to the candidate (one conditional write: of two releases at once exactly one
wins) and the history records the burn-in evidence; the waves then follow with the rollout playbook.
Fail: ``canary`` is rolled back to its previous target and the history records why; production is not
touched. Either way nothing is decided twice: a candidate that production already points at is done.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from footfall.registry.artefacts import RegistryError
from footfall.registry.core import AliasConflict, Registry
from footfall.retrain.config import ReleaseSettings
from footfall.retrain.gate import count_regressions

log = logging.getLogger("footfall.release")


@dataclass
class BurnIn:
    """What the canary stores showed during the burn-in."""

    samples: int = 0
    min_fps: float | None = None
    problems: list[str] = field(default_factory=list)

    def see(self, url: str, status: int | None, doc: dict[str, Any] | None, want: str, min_fps: float) -> None:
        self.samples += 1
        if status != 200 or doc is None:
            self.problems.append(f"{url}: answered {status} (not healthy)")
            return
        if doc.get("status") != "ok":
            self.problems.append(f"{url}: status {doc.get('status')!r}")
        cams = doc.get("cameras") or {}
        versions = sorted({str(c.get("model_version")) for c in cams.values()}) or [str(doc.get("model_version"))]
        if versions != [want]:
            self.problems.append(f"{url}: runs {versions}, not {want}")
        for name, cam in cams.items():
            fps = float(cam.get("fps") or 0.0)
            self.min_fps = fps if self.min_fps is None else min(self.min_fps, fps)
            if fps < min_fps:
                self.problems.append(f"{url}: camera {name} at {fps:.1f} fps, below {min_fps:g}")


def fetch_health(url: str, timeout_s: float = 10.0) -> tuple[int | None, dict[str, Any] | None]:
    """HTTP status and JSON of one ``/health`` answer; (None, None) when the store cannot be reached."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            return exc.code, None
    except (OSError, ValueError):
        return None, None


def count_check(meta: dict[str, Any], max_increase: float) -> list[str]:
    """The candidate's count error on the gate's labelled sequences against the model it replaces."""
    mine = (meta.get("metrics") or {}).get("sequences") or {}
    theirs = ((meta.get("baseline") or {}).get("metrics") or {}).get("sequences") or {}
    return count_regressions(mine, theirs, max_increase)


def release(
    registry: Registry,
    name: str,
    settings: ReleaseSettings,
    *,
    health: Callable[[str], tuple[int | None, dict[str, Any] | None]] = fetch_health,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Burn in the canary's version and move production to it, or roll the canary back; the decision."""
    aliases = registry.aliases(name)
    if settings.from_alias not in aliases:
        raise RegistryError(f"{name}@{settings.from_alias}: no such alias; nothing to release")
    version = aliases[settings.from_alias]
    production = aliases.get(settings.to_alias)
    want = f"{name}:{version}"
    if production == version:
        return {"released": True, "version": version, "note": f"{settings.to_alias} already points at {want}"}
    meta = registry.metadata(name, version).to_dict()
    burn = BurnIn()
    deadline = time.monotonic() + settings.burn_in_s
    while True:
        for url in settings.canary_health:
            status, doc = health(url)
            burn.see(url, status, doc, want, settings.min_fps)
        if burn.problems or time.monotonic() >= deadline:
            break
        sleep(settings.check_every_s)
    problems = burn.problems + count_check(meta, settings.max_count_error_increase)
    evidence = {
        "version": version,
        "samples": burn.samples,
        "min_fps": burn.min_fps,
        "canaries": settings.canary_health,
    }
    if problems:
        registry.record(name, {"event": "release-refused", **evidence, "reasons": problems})
        try:
            back: int | None = registry.rollback(name, settings.from_alias)["version"]
        except RegistryError:  # the first canary ever: nothing earlier to go back to
            back = None
        log.error("release of %s refused (%s); %s now %s", want, "; ".join(problems), settings.from_alias, back)
        return {"released": False, "version": version, "reasons": problems, "canary_rolled_back_to": back}
    try:
        registry.promote(name, version, settings.to_alias, expected=production)
    except AliasConflict:
        if registry.aliases(name).get(settings.to_alias) == version:  # a release running beside this one won
            return {"released": True, "version": version, "note": "released by a concurrent run"}
        raise RegistryError(
            f"{name}@{settings.to_alias} moved while {want} was burning in; nothing was changed. Run the release again"
        ) from None
    registry.record(name, {"event": "release", **evidence, "from": production})
    log.info("released %s to %s after %d health samples", want, settings.to_alias, burn.samples)
    return {"released": True, "version": version, "previous": production, **evidence}
