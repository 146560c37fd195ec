"""Periodic jobs, run by APScheduler in the worker (or in-process for `queue-app run`)."""
