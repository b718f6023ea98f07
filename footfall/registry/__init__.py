"""Registry: immutable, checksummed versions of models and datasets on a folder or S3, with aliases."""
