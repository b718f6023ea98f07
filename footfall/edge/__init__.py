"""Edge: the store device's counter — sources, detector, tracker, line counting, storage, capture."""
