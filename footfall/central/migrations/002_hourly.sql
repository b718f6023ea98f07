-- Crossings per UTC hour, store, line and direction (no class): what the chain page sums over every
-- store. Kept by the ingest in the same transaction as the crossings, like counts_15m; filled here from
-- counts_15m for the crossings already stored. Ordered by hour first: one day of the whole chain is one
-- contiguous range of the primary key.
CREATE TABLE counts_1h (
    bucket bigint NOT NULL,
    store text NOT NULL,
    camera text NOT NULL,
    line text NOT NULL,
    direction text NOT NULL,
    n integer NOT NULL,
    PRIMARY KEY (bucket, store, camera, line, direction)
);
INSERT INTO counts_1h
    SELECT bucket - bucket % 3600, store, camera, line, direction, sum(n) FROM counts_15m GROUP BY 1, 2, 3, 4, 5;
ALTER TABLE retention DROP CONSTRAINT retention_tbl_check;
ALTER TABLE retention ADD CONSTRAINT retention_tbl_check CHECK (tbl IN ('crossings', 'counts_15m', 'counts_1h'));
INSERT INTO retention VALUES ('counts_1h', 1100);
