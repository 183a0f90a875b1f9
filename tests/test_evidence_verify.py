"""`trawler evidence verify` and `trawler evidence bundle` on captured evidence: verify passes on
untouched evidence and fails, naming what broke, on each kind of tampering."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.test_evidence_pipeline import build_evidence

WARCIO = Path(sys.executable).parent / "warcio"


@pytest.fixture(scope="module")
def evidence_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("evidence") / "data"
    build_evidence(data)
    return data


@pytest.fixture
def data(evidence_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the evidence that a test may tamper with."""
    copy = tmp_path / "data"
    shutil.copytree(evidence_dir, copy)
    return copy


def sql(data: Path, statement: str) -> None:
    with sqlite3.connect(data / "trawler.db") as conn:
        conn.execute(statement)


def warc_file(data: Path) -> Path:
    (path,) = sorted((data / "warc").glob("*.warc.gz"))
    return path


def capture_range(data: Path, page_url_end: str) -> tuple[int, int]:
    with sqlite3.connect(data / "trawler.db") as conn:
        return conn.execute(
            "SELECT c.offset, c.length FROM captures c JOIN pages p ON p.id = c.page_id "
            "WHERE p.url LIKE ?", (f"%{page_url_end}",)).fetchone()


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_untouched_evidence_verifies(data: Path, run_trawler) -> None:
    result = run_trawler("evidence", "verify", data=data)
    assert result.returncode == 0, result.stderr
    assert "evidence OK" in result.stdout and "5 captures, 2 screenshots" in result.stdout
    check = subprocess.run([str(WARCIO), "check", str(warc_file(data))], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout
    site = run_trawler("evidence", "verify", "shop-minsk.example", data=data)
    assert site.returncode == 0, site.stderr
    unknown = run_trawler("evidence", "verify", "nowhere.example", data=data)
    assert unknown.returncode == 2 and "no site named" in unknown.stderr


TAMPERING: dict[str, tuple[Callable[[Path], None], str]] = {
    "flip a byte inside a response": (
        lambda d: flip_byte(warc_file(d), sum(capture_range(d, "oplata.html")) - 600),
        "was altered"),
    "flip a byte in a gzip header": (
        lambda d: flip_byte(warc_file(d), capture_range(d, "catalog.html")[0] + 4),
        "catalog.html"),
    "flip the last byte of the file": (
        lambda d: flip_byte(warc_file(d), warc_file(d).stat().st_size - 1), "differ"),
    "delete a custody row": (
        lambda d: sql(d, "DELETE FROM custody_events WHERE id = 2"), "custody event 3"),
    "delete the last custody row": (
        lambda d: sql(d, "DELETE FROM custody_events WHERE id = "
                         "(SELECT max(id) FROM custody_events)"), "deleted"),
    "edit a custody row": (
        lambda d: sql(d, "UPDATE custody_events SET actor = 'nobody' WHERE id = 1"), "edited"),
    "edit a stored verdict label": (
        lambda d: sql(d, "UPDATE verdicts SET label = 'benign' WHERE page_id = "
                         "(SELECT id FROM pages WHERE url LIKE '%oplata.html')"),
        "label 'drugs' became 'benign'"),
    "edit a stored verdict score": (
        lambda d: sql(d, "UPDATE verdicts SET score = 0.31 WHERE page_id = "
                         "(SELECT id FROM pages WHERE url LIKE '%catalog.html')"), "score"),
    "delete a WARC file": (lambda d: warc_file(d).unlink(), "missing"),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampering_is_caught(kind: str, data: Path, run_trawler) -> None:
    tamper, expected = TAMPERING[kind]
    tamper(data)
    result = run_trawler("evidence", "verify", data=data)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "evidence verify FAILED" in result.stderr
    assert expected in result.stderr, result.stderr


def test_bundle_is_a_checkable_package(data: Path, run_trawler, tmp_path: Path) -> None:
    out = tmp_path / "shop-minsk.wacz"
    result = run_trawler("evidence", "bundle", "shop-minsk.example", "--out", str(out),
                         "--user", "analyst", data=data)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        assert {"archive/shop-minsk.example.warc.gz", "pages/pages.jsonl", "indexes/index.cdxj",
                "datapackage.json", "datapackage-digest.json", "manifest-sha256.txt",
                "evidence/verdicts.jsonl", "evidence/custody.jsonl", "evidence/reviews.json",
                "evidence/entities.json", "evidence/site.json"} <= names
        assert len([n for n in names if n.startswith("screenshots/")]) == 2
        package = json.loads(bundle.read("datapackage.json"))
        for resource in package["resources"]:
            digest = hashlib.sha256(bundle.read(resource["path"])).hexdigest()
            assert resource["hash"] == f"sha256:{digest}", resource["path"]
        digest = json.loads(bundle.read("datapackage-digest.json"))["hash"]
        assert digest == "sha256:" + hashlib.sha256(bundle.read("datapackage.json")).hexdigest()
        assert bundle.getinfo("archive/shop-minsk.example.warc.gz").compress_type == \
            zipfile.ZIP_STORED
        warc = tmp_path / "bundle.warc.gz"
        warc.write_bytes(bundle.read("archive/shop-minsk.example.warc.gz"))
        verdicts = [json.loads(v) for v in bundle.read("evidence/verdicts.jsonl").splitlines()]
        custody = [json.loads(c) for c in bundle.read("evidence/custody.jsonl").splitlines()]
        entities = json.loads(bundle.read("evidence/entities.json"))
        pages = bundle.read("pages/pages.jsonl").decode().splitlines()
    check = subprocess.run([str(WARCIO), "check", "-v", str(warc)], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0 and check.stdout.count("digest pass") == 1 + 5 * 3 + 2
    assert len(verdicts) == 5 and {v["verdict"]["label"] for v in verdicts} == {"drugs", "benign"}
    assert sum(e["object_type"] == "page" for e in custody) == 5
    assert {"btc", "card", "qiwi", "telegram"} <= {e["kind"] for e in entities}
    assert json.loads(pages[0])["format"] == "json-pages-1.0" and len(pages) == 1 + 2 + 5

    after = run_trawler("evidence", "verify", data=data)  # the bundled event extends the chain
    assert after.returncode == 0, after.stderr
    with sqlite3.connect(data / "trawler.db") as conn:
        action, actor, detail = conn.execute(
            "SELECT action, actor, detail FROM custody_events ORDER BY id DESC LIMIT 1").fetchone()
    assert (action, actor) == ("bundled", "analyst")
    assert json.loads(detail)["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


def test_bundle_refuses_altered_evidence(data: Path, run_trawler, tmp_path: Path) -> None:
    flip_byte(warc_file(data), sum(capture_range(data, "oplata.html")) - 600)
    result = run_trawler("evidence", "bundle", "shop-minsk.example", "--out",
                         str(tmp_path / "x.wacz"), data=data)
    assert result.returncode == 2 and "not bundled" in result.stderr
    assert not (tmp_path / "x.wacz").exists()
