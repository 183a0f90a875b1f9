"""trawler: finds online shops that sell illegal drugs and NPS, keeps evidence, supports review."""

__version__ = "0.1.0"
