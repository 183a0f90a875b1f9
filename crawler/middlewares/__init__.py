"""Downloader middlewares, one concern each: safety guard and proxy routing."""
