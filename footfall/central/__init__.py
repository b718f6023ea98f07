"""The chain's central store: every store's crossings in one PostgreSQL, shipped by the devices exactly once
(``footfall central``), read by the dashboard's chain view."""
