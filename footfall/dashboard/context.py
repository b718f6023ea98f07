"""What every route of the dashboard shares: its settings, the store's read view, the device config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from footfall.dashboard.queries import QueryError, Store
from footfall.edge.config import EdgeConfig, load_config


@dataclass
class Settings:
    db: Path
    tz: ZoneInfo
    token: str | None = None
    config_path: Path | None = None  # the device config: cameras, lines, live view, line editing
    interval_s: int = 900
    opening_hour: int = 0
    entrances: tuple[str, ...] = ()
    max_dwell_s: float = 12 * 3600
    edge_url: str | None = None  # http://host:port of the edge's live view
    secure_cookie: bool = False  # HTTPS (tls_cert, or a TLS proxy in front): the cookie never travels in clear
    session_epoch: int = 1  # raised in the config: every sign-in cookie issued before is refused

    @classmethod
    def from_config(cls, path: Path, cfg: EdgeConfig, token: str | None, tz: ZoneInfo) -> Settings:
        d = cfg.dashboard
        edge_host = "127.0.0.1" if cfg.metrics.host in ("0.0.0.0", "::", "") else cfg.metrics.host
        return cls(
            db=cfg.storage.db,
            tz=tz,
            token=token,
            config_path=path,
            interval_s=d.interval_minutes * 60,
            opening_hour=d.opening_hour,
            entrances=tuple(d.entrances),
            max_dwell_s=d.max_dwell_h * 3600,
            edge_url=f"http://{edge_host}:{cfg.metrics.port}" if cfg.metrics.port and cfg.metrics.live else None,
            secure_cookie=d.tls_cert is not None or d.secure_cookie,
            session_epoch=d.session_epoch,
        )


@dataclass
class Context:
    settings: Settings
    store: Store

    @classmethod
    def of(cls, settings: Settings) -> Context:
        store = Store(settings.db, settings.tz, settings.opening_hour, list(settings.entrances), settings.max_dwell_s)
        return cls(settings, store)

    def config(self) -> EdgeConfig | None:
        return load_config(self.settings.config_path) if self.settings.config_path else None

    def not_counted(self) -> list[str]:
        """Product classes the device's model cannot report (e.g. the COCO bootstrap model, every person
        as male_adult): the pages say so instead of showing their 0 as a measurement."""
        from footfall.edge.detectors import counted_classes

        cfg = self.config()
        if cfg is None:
            return []
        counted = counted_classes(cfg.model)
        return [] if counted is None else [c for c in cfg.model.classes if c not in counted]

    def today(self) -> date:
        return datetime.now(self.settings.tz).date()

    def default_day(self) -> date:
        """Today if it has crossings, else the last day that has (a fresh page shows data, not zeros)."""
        span = self.store.data_range() if self.settings.db.exists() else None
        today = self.today()
        return today if span is None or span[1] >= today.isoformat() else date.fromisoformat(span[1])


def parse_day(value: str | None, name: str, default: Callable[[], date]) -> date:
    if not value:
        return default()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name}={value!r}: write the day as YYYY-MM-DD") from None
    if not 1970 <= day.year <= 9000:  # a week either side must stay in the calendar
        raise QueryError(f"{name}={value!r}: ask for a day between 1970 and 9000")
    return day
