"""Retrain: train a candidate from the production model, score it on a held-out version, gate it."""
