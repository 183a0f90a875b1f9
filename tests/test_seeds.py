"""Seed files: URLs, tags, per-seed limits, proxy/Tor, schedule; errors name line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.seeds import SeedError, load_seeds, seeds_tor
from tests.conftest import ROOT


def write(tmp_path: Path, text: str, name: str = "seeds.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(SeedError) as info:
        load_seeds([write(tmp_path, text)])
    return str(info.value)


def test_full_seed_file(tmp_path: Path) -> None:
    path = write(tmp_path, """\
proxy: http://127.0.0.1:3128
tor: socks5h://127.0.0.1:9150
schedule: daily
seeds:
  - url: http://links-catalog.example/
    tags: [hub, ru]
    max_pages: 200
    depth: 2
    note: the main hub
  - url: forum.example/board
    proxy: socks5h://10.0.0.5:1080
    schedule: 12h
  - http://plain.example/
""")
    hub, forum, plain = load_seeds([path])
    assert hub.url == "http://links-catalog.example/" and hub.tags == ("hub", "ru")
    assert (hub.max_pages, hub.depth, hub.proxy) == (200, 2, "http://127.0.0.1:3128")
    assert hub.tor == "socks5h://127.0.0.1:9150" and hub.schedule == "daily"
    assert forum.url == "http://forum.example/board"
    assert forum.proxy == "socks5h://10.0.0.5:1080" and forum.schedule == "12h"
    assert plain.proxy == "http://127.0.0.1:3128" and plain.tor == "socks5h://127.0.0.1:9150"
    assert hub.to_dict()["tor"] == "socks5h://127.0.0.1:9150"
    assert seeds_tor([hub, forum, plain]) == "socks5h://127.0.0.1:9150"


def test_demo_seed_file_loads() -> None:
    seeds = load_seeds([str(ROOT / "configs/seeds/demo.yaml")])
    assert seeds and all(s.url.startswith("http") for s in seeds)


@pytest.mark.parametrize(("text", "where", "words"), [
    ("seeds:\n  - url: http://a.example/\n    max_pages: lots\n", ":3:", "'max_pages'"),
    ("seeds:\n  - url: http://a.example/\n    depth: -1\n", ":3:", "'depth'"),
    ("seeds:\n  - url: http://a.example/\n    tags: hub\n", ":3:", "'tags'"),
    ("seeds:\n  - url: http://a.example/\n    colour: red\n", ":3:", "colour"),
    ("seeds:\n  - tags: [x]\n", ":2:", "'url' is missing"),
    ("seeds:\n  - url: ftp://a.example/\n", ":2:", "not an http(s) URL"),
    ("seeds:\n  - url: http://a.example/\n    proxy: 10.0.0.1\n", ":3:", "'proxy'"),
    ("seeds:\n  - url: http://a.example/\n    tor: http://127.0.0.1:9050\n", ":3:", "'tor'"),
    ("seeds:\n  - url: http://a.example/\n    schedule: fortnightly\n", ":3:", "'schedule'"),
    ("tor: yes\nseeds:\n  - http://a.example/\n", ":1:", "'tor'"),
    ("seeds:\n  - http://a.example/\nschedul: daily\n", ":3:", "schedul"),
    ("seeds: http://a.example/\n", "", "'seeds:' list"),
    ("seeds:\n  - url: [unclosed\n", ":", "not valid YAML"),
])
def test_mistakes_name_line_and_field(tmp_path: Path, text: str, where: str, words: str) -> None:
    message = error_of(tmp_path, text)
    assert f"seeds.yaml{where}" in message
    assert words in message


def test_missing_file_and_no_seeds(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="does not exist"):
        load_seeds([str(tmp_path / "nope.yaml")])
    with pytest.raises(SeedError, match="no seeds"):
        load_seeds([])


def test_conflicting_tor_proxies_are_refused(tmp_path: Path) -> None:
    one = write(tmp_path, "tor: socks5h://127.0.0.1:9050\nseeds: [http://a.example/]\n", "a.yaml")
    two = write(tmp_path, "tor: socks5h://127.0.0.1:9150\nseeds: [http://b.example/]\n", "b.yaml")
    with pytest.raises(SeedError, match="different Tor proxies"):
        seeds_tor(load_seeds([one, two]))
