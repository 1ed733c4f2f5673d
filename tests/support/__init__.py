"""Helpers every test package shares: waiting, a real Celery worker, rows kept for a module."""
