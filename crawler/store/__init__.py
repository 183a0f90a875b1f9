"""Storage: the schema (``models``), the session factory (``db``) and the queries (``queries``)."""

from crawler.store.db import Database, open_database

__all__ = ["Database", "open_database"]
