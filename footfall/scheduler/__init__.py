"""Scheduler: the flywheel's nightly jobs (harvest, retraining, commands) on cron triggers, one run per slot."""
