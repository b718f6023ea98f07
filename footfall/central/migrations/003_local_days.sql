-- Crossings per store-local calendar day, line and direction: the totals the chain page compares (the
-- week before, a week's ranking) without reading every hour again. Kept by the ingest in the same
-- transaction as the crossings, with the store's time zone as the catalogue has it then (changing a
-- store's zone later leaves the days already counted as they were); filled here from the crossings.
CREATE TABLE counts_1d (
    day date NOT NULL,
    store text NOT NULL,
    camera text NOT NULL,
    line text NOT NULL,
    direction text NOT NULL,
    n integer NOT NULL,
    PRIMARY KEY (day, store, camera, line, direction)
);
INSERT INTO counts_1d
    SELECT (to_timestamp(c.ts) AT TIME ZONE s.timezone)::date, c.store, c.camera, c.line, c.direction, count(*)
    FROM crossings c JOIN stores s USING (store) GROUP BY 1, 2, 3, 4, 5;
ALTER TABLE retention DROP CONSTRAINT retention_tbl_check;
ALTER TABLE retention ADD CONSTRAINT retention_tbl_check
    CHECK (tbl IN ('crossings', 'counts_15m', 'counts_1h', 'counts_1d'));
INSERT INTO retention VALUES ('counts_1d', 1100);
