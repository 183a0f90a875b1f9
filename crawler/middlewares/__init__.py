"""Downloader middlewares, one concern each: safety guard, proxy routing, meta refresh."""
