"""footfall: retail people counting on existing CCTV cameras, with a continuous-learning flywheel."""

__version__ = "0.1.0"
