"""Harvest: choose the captured frames most worth an annotator's time and push them to Label Studio."""
