"""``trawler export`` on the command line: messages, refusals, --list, --since."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import crawler.cli.export  # noqa: F401  (registers the command)
from crawler.cli import cli
from crawler.store import open_database
from tests.test_export import fill


@pytest.fixture
async def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'trawler.db'}"
    db = await open_database(url)
    await fill(db)
    await db.close()
    return url


def trawler_export(db_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["export", *args, "--db", db_url])
    return result.exit_code, result.output


def test_export_then_empty_re_export(db_url: str, tmp_path: Path) -> None:
    code, output = trawler_export(db_url, "--format", "rpz", "--out", str(tmp_path / "a.rpz"),
                                  "--user", "carol")
    assert code == 0, output
    assert output.startswith("batch 1 (rpz, incremental): 2 items (2 domain)")
    assert (tmp_path / "a.rpz.manifest.json").exists()

    code, output = trawler_export(db_url, "--format", "rpz", "--out", str(tmp_path / "b.rpz"))
    assert code == 0, output
    assert "batch 2 (rpz, incremental): 0 items - nothing approved that is not already" in output

    code, output = trawler_export(db_url, "--format", "rpz", "--out", str(tmp_path / "c.rpz"),
                                  "--all")
    assert code == 0 and "2 items" in output

    code, output = trawler_export(db_url, "--format", "csv", "--out", str(tmp_path / "d.csv"),
                                  "--since", "1")
    assert code == 0 and "0 items - nothing approved to export" in output

    code, output = trawler_export(db_url, "--list")
    assert code == 0
    assert "carol" in output and "a.rpz" in output


def test_user_errors_are_one_line(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    cases = [
        (["--format", "csv"], "give --format FORMAT and --out FILE"),
        (["--format", "csv", "--out", str(out), "--all", "--since", "1"], "exclude each other"),
        (["--format", "csv", "--out", str(out), "--since", "7"], "there is no export batch 7"),
        (["--format", "csv", "--out", str(tmp_path / "no" / "x.csv")], "does not exist"),
        (["--format", "pdf", "--out", str(out)], "Invalid value for '--format'"),
    ]
    for args, message in cases:
        code, output = trawler_export(db_url, *args)
        assert code == 2, (args, output)
        assert message in output and "Traceback" not in output
    assert not out.exists()


def test_existing_file_is_never_overwritten(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "batch.json"
    assert trawler_export(db_url, "--format", "json", "--out", str(out))[0] == 0
    before = out.read_bytes()
    code, output = trawler_export(db_url, "--format", "json", "--out", str(out), "--all")
    assert code == 2 and "exists" in output
    assert out.read_bytes() == before
    assert json.loads(before)["batch"] == 1
