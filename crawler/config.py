"""The one configuration loader: configs/trawler.toml, then TRAWLER_* variables, then options.

``TRAWLER_CONFIG`` names a further TOML file whose sections override the defaults.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULTS_FILE = PROJECT_ROOT / "configs" / "trawler.toml"


class ConfigError(Exception):
    """A configuration value a user supplied is unusable; the message says which and why."""


@dataclass(frozen=True)
class CrawlConfig:
    max_pages: int = 1000
    depth: int = 3
    concurrency: int = 16
    per_site_concurrency: int = 4
    delay: float = 0.0
    timeout: float = 20.0
    max_page_bytes: int = 3_000_000
    allow_private: bool = False
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    proxy: str | None = None
    tor: str = "socks5h://127.0.0.1:9050"
    analysis_workers: int | str = "auto"  # processes that extract and classify; 0: in-process
    analysis_timeout: float = 60.0  # seconds a batch may take in a worker before it is killed


@dataclass(frozen=True)
class Config:
    """Everything a command needs to find its state: data dir, database, model, crawl defaults."""

    data_dir: Path
    db_url: str
    model_path: Path
    crawl: CrawlConfig = field(default_factory=CrawlConfig)
    four_eyes: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def with_crawl(self, **changes: Any) -> Config:
        """A copy with some crawl settings changed; ``None`` values leave a setting as it is."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return replace(self, crawl=replace(self.crawl, **changes))

    @property
    def warc_dir(self) -> Path:
        return self.data_dir / "warc"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"


def worker_count(setting: int | str) -> int:
    """Analysis worker processes for ``[crawl] analysis_workers``.

    "auto" leaves one core to the crawl loop (and takes at most 8); 0 analyses in-process.
    """
    if setting == "auto":
        return max(1, min(8, len(os.sched_getaffinity(0)) - 1))
    if isinstance(setting, int) and not isinstance(setting, bool) and setting >= 0:
        return setting
    raise ValueError(f'analysis_workers must be "auto" or a whole number >= 0, not {setting!r}')


def analysis_timeout(setting: object) -> float:
    """Seconds for ``[crawl] analysis_timeout``: a number above 0."""
    if isinstance(setting, (int, float)) and not isinstance(setting, bool) and setting > 0:
        return float(setting)
    raise ValueError(f"analysis_timeout must be a number of seconds > 0, not {setting!r}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def default_db_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'trawler.db'}"


def load_config(
    data: str | os.PathLike[str] | None = None,
    db: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> Config:
    """Build the configuration: file defaults < environment < explicit arguments."""
    raw = _read_toml(DEFAULTS_FILE)
    config_file = config_file or os.environ.get("TRAWLER_CONFIG") or None
    if config_file is not None:
        path = Path(config_file)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        extra = _read_toml(path)
        for section, values in extra.items():
            raw.setdefault(section, {}).update(values)

    crawl_raw = raw.get("crawl", {})
    known = CrawlConfig.__dataclass_fields__
    unknown = sorted(set(crawl_raw) - set(known))
    if unknown:
        raise ConfigError(f"unknown [crawl] setting(s): {', '.join(unknown)}")
    crawl = CrawlConfig(**crawl_raw)
    try:
        worker_count(crawl.analysis_workers)
        analysis_timeout(crawl.analysis_timeout)
    except ValueError as exc:
        raise ConfigError(f"[crawl] {exc}") from exc

    data_dir = Path(data or os.environ.get("TRAWLER_DATA") or "data").expanduser().resolve()
    db_url = db or os.environ.get("TRAWLER_DB") or default_db_url(data_dir)
    model_path = Path(
        os.environ.get("TRAWLER_MODEL") or raw.get("model", {}).get("path", "models/trawler")
    )
    if not model_path.is_absolute():
        model_path = PROJECT_ROOT / model_path
    return Config(
        data_dir=data_dir,
        db_url=db_url,
        model_path=model_path,
        crawl=crawl,
        four_eyes=bool(raw.get("review", {}).get("four_eyes", False)),
        extra=raw,
    )
