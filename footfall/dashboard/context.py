"""What every route of the dashboard shares: its settings, the stores' read views, the device config.

One store (a device's SQLite, ``--config``/``--db``) or a chain (the central PostgreSQL,
``--db postgresql://…``): the routes ask ``Context.store(name)`` for the store of a request, and the
same queries answer over either backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from footfall.dashboard.queries import QueryError, Store
from footfall.edge.config import EdgeConfig, load_config
from footfall.edge.counts import CountReader


@dataclass
class Settings:
    db: Path | None
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
    central: str | None = None  # postgresql://… of the chain's central store (then db is None)

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
    local: Store | None = None  # the one store of a device dashboard, made once (its reader caches what it learns)

    @classmethod
    def of(cls, settings: Settings) -> Context:
        if settings.central is not None:
            return cls(settings)
        assert settings.db is not None
        reader = CountReader(settings.db)
        s = settings
        return cls(settings, Store(reader, s.tz, s.opening_hour, list(s.entrances), s.max_dwell_s))

    @property
    def is_chain(self) -> bool:
        return self.settings.central is not None

    def store(self, name: str | None = None) -> Store:
        """The store a request is about: the one store, or ``name`` in the chain's catalogue."""
        s = self.settings
        if s.central is None:
            if name:
                raise QueryError(f"store={name!r}: this dashboard shows one store; leave store out")
            assert self.local is not None
            return self.local
        from footfall.central.db import Pool, get_store
        from footfall.central.reader import CentralReader

        if not name:
            raise QueryError("this dashboard shows a chain: give store=ID (the chain page lists them)")
        with Pool.of(s.central).connection() as con, con.transaction():
            info = get_store(con, name)
        if info is None:
            raise UnknownStore(f"no store {name!r} in the chain's catalogue (footfall central store add)")
        return Store(CentralReader(s.central, name), info.tz, info.opening_hour, list(info.entrances), s.max_dwell_s)

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

    def today(self, store: Store) -> date:
        return datetime.now(store.tz).date()

    def default_day(self, store: Store) -> date:
        """Today if it has crossings, else the last day that has (a fresh page shows data, not zeros)."""
        span = store.data_range() if store.exists() else None
        today = self.today(store)
        return today if span is None or span[1] >= today.isoformat() else date.fromisoformat(span[1])


class UnknownStore(LookupError):
    """A store id the chain's catalogue does not have (404)."""


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
