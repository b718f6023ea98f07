"""Dashboard: ``footfall serve``, the store owner's pages and API over the count store."""
