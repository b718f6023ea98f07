-- The chain's central store, version 1. Applied once by 'footfall central migrate' in one transaction
-- (footfall.central.db); a later change is a new numbered file, never an edit of this one.

-- The catalogue: stores, the devices that ship for them (a token each, stored as its SHA-256 only),
-- the cameras each device ships, and every version of every counting line.
CREATE TABLE stores (
    store text PRIMARY KEY,
    name text NOT NULL DEFAULT '',
    region text NOT NULL DEFAULT '',
    timezone text NOT NULL DEFAULT 'UTC',
    opening_hour integer NOT NULL DEFAULT 0 CHECK (opening_hour BETWEEN 0 AND 23),
    closing_hour integer NOT NULL DEFAULT 24 CHECK (closing_hour BETWEEN 1 AND 24),
    tags text[] NOT NULL DEFAULT '{}',
    entrances text[] NOT NULL DEFAULT '{}',  -- CAMERA/LINE: the lines whose crossings are the store's visitors
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    device text PRIMARY KEY,
    store text NOT NULL REFERENCES stores,
    token_sha256 text NOT NULL UNIQUE,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz,          -- last request (a heartbeat when there is nothing to ship)
    last_clock_skew_s double precision,  -- the device's clock minus ours at its last request
    last_acked_seq bigint NOT NULL DEFAULT 0
);

CREATE TABLE cameras (
    store text NOT NULL REFERENCES stores,
    camera text NOT NULL,
    device text NOT NULL REFERENCES devices,
    PRIMARY KEY (store, camera)
);

-- A line moved is a new version (same name, new geometry), never a silent change of meaning.
CREATE TABLE line_versions (
    store text NOT NULL,
    camera text NOT NULL,
    line text NOT NULL,
    version integer NOT NULL,
    points jsonb,                   -- NULL: declared only by crossings (a device that shipped no lines)
    invert boolean NOT NULL DEFAULT false,
    valid_from timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store, camera, line, version),
    FOREIGN KEY (store, camera) REFERENCES cameras
);

-- Crossings, partitioned by UTC day (a partition per day, made when its first row arrives; retention
-- drops whole partitions). The key is the device's idempotency key within its store.
CREATE TABLE crossings (
    store text NOT NULL,
    camera text NOT NULL,
    session text NOT NULL,
    line text NOT NULL,
    track_id integer NOT NULL,
    frame integer NOT NULL,
    ts double precision NOT NULL,
    day date NOT NULL,
    class text NOT NULL,
    direction text NOT NULL CHECK (direction IN ('in', 'out', 'uturn')),
    first_direction text,
    model_version text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store, camera, session, line, track_id, frame, day)
) PARTITION BY RANGE (day);
CREATE INDEX crossings_by_store_time ON crossings (store, ts);

-- Crossings per 15 minutes (epoch-aligned), kept in the same transaction as the crossings it sums:
-- only rows actually inserted (not duplicates) are added (footfall.central.ingest).
CREATE TABLE counts_15m (
    store text NOT NULL,
    bucket bigint NOT NULL,
    camera text NOT NULL,
    line text NOT NULL,
    class text NOT NULL,
    direction text NOT NULL,
    n integer NOT NULL,
    PRIMARY KEY (store, bucket, camera, line, class, direction)
);
CREATE INDEX counts_15m_by_time ON counts_15m (bucket);

-- How long each table keeps its rows ('footfall central prune').
CREATE TABLE retention (
    tbl text PRIMARY KEY CHECK (tbl IN ('crossings', 'counts_15m')),
    days integer NOT NULL CHECK (days > 0)
);
INSERT INTO retention VALUES ('crossings', 400), ('counts_15m', 1100);

-- What the ingest refused, for the operator (the device keeps the rows and resends after the fix).
CREATE TABLE ingest_rejects (
    at timestamptz NOT NULL DEFAULT now(),
    device text,
    reason text NOT NULL
);
