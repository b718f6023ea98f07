"""Labelling: the Label Studio contract, the export of annotations and versioned YOLO datasets."""
