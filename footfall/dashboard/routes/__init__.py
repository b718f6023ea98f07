"""The dashboard's routers: access (sign-in), pages, counts (the store owner's numbers), cameras (lines, live)."""
