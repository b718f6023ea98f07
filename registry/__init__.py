"""registry: see README.md; not built yet (issues #4–#7)."""
