"""WARC writing: WARC 1.1 records with SHA-256 digests that ``warcio check`` accepts, truncation
recorded, rotation by size, and a full disk that leaves every record written before intact."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from crawler.evidence.warc import CaptureInfo, WarcFiles
from crawler.extract.entities import FoundEntity
from crawler.items import PageItem

ROOT = Path(__file__).resolve().parent.parent
WARCIO = Path(sys.executable).parent / "warcio"


class Verdict:
    label, score, threshold, model_version = "drugs", 0.93, 0.5, "test-1"
    reasons = [{"feature": "lexicon", "term": "закладка", "weight": 1.5}]


def page(n: int = 1, body: bytes = b"<html><title>shop</title>closed</html>", **kw) -> PageItem:
    fields = dict(
        url=f"http://shop-minsk.example/p{n}?a=1", site="shop-minsk.example", status=200,
        content_type="text/html; charset=utf-8",
        headers={"Content-Type": "text/html; charset=utf-8", "Server": "fictional-web",
                 "Content-Encoding": "gzip", "Content-Length": "17"},
        request_headers={"User-Agent": "Mozilla/5.0 test", "Accept": "text/html"},
        body=body, ip_address="127.0.0.1", route="proxy", page_id=n, site_id=1,
        verdict=Verdict(), fetched_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        entities=[FoundEntity("btc", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", True, "BTC ...",
                              {"type": "p2pkh"})])
    fields.update(kw)
    return PageItem(**fields)


def info(**kw) -> CaptureInfo:
    return CaptureInfo(**{"reason": "drugs-verdict", "max_page_bytes": 1000,
                          "custody_count": 3, "custody_head": "ab" * 32, "job": "t", **kw})


def warcio_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WARCIO), "check", "-v", *map(str, paths)], capture_output=True,
                          text=True, check=False)


def records(path: Path) -> list[tuple[str, dict[str, str], bytes, object]]:
    out = []
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh):
            out.append((record.rec_type, dict(record.rec_headers.headers),
                        record.content_stream().read(), record.http_headers))
    return out


def test_capture_records_are_warc_1_1_with_sha256_digests(tmp_path: Path) -> None:
    files = WarcFiles(tmp_path, "t", 10**9, {"software": "trawler/test", "operator": "tester",
                                            "http-header-user-agent": "Mozilla/5.0 test"})
    item = page(body=b"x" * 1000, truncated=True)
    captured, appended = files.append_capture(item, info())
    files.close()
    path = tmp_path / appended.name
    check = warcio_check(path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("digest pass") == 4

    found = records(path)
    assert [r[0] for r in found] == ["warcinfo", "request", "response", "metadata"]
    warcinfo, request, response, metadata = found
    assert b"operator: tester" in warcinfo[2] and b"route: proxy" in warcinfo[2]
    for _, headers, _, _ in found:
        assert headers["WARC-Block-Digest"].startswith("sha256:")
    rh = response[1]
    assert rh["WARC-Payload-Digest"] == "sha256:" + hashlib.sha256(item.body).hexdigest()
    assert rh["WARC-IP-Address"] == "127.0.0.1"
    assert rh["WARC-Truncated"] == "length"
    assert rh["WARC-Date"] == "2026-01-02T03:04:05.678901Z"
    assert rh["WARC-Record-ID"] == captured.response_id
    assert rh["WARC-Warcinfo-ID"] == warcinfo[1]["WARC-Record-ID"]
    assert response[3].get_header("Content-Encoding") is None  # the body is stored decoded
    assert response[3].get_header("Content-Length") == "1000"
    assert request[1]["WARC-Concurrent-To"] == captured.response_id
    assert request[3].to_str().startswith("GET /p1?a=1 HTTP/1.1")
    assert request[3].get_header("User-Agent") == "Mozilla/5.0 test"
    doc = json.loads(metadata[2])
    assert metadata[1]["WARC-Concurrent-To"] == captured.response_id
    assert doc["verdict"] == {"label": "drugs", "score": 0.93, "threshold": 0.5,
                              "model_version": "test-1", "reasons": Verdict.reasons}
    assert doc["entities"][0]["value"] == "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
    assert doc["truncated"]["reason"] == "length" and doc["truncated"]["limit_bytes"] == 1000
    assert doc["headers_rewritten"]["original"]["Content-Encoding"] == "gzip"
    assert doc["custody_anchor"] == {"count": 3, "head": "ab" * 32}
    with path.open("rb") as fh:
        fh.seek(appended.offset)
        assert hashlib.sha256(fh.read(appended.length)).hexdigest() == appended.sha256


def test_screenshot_resource_record(tmp_path: Path) -> None:
    files = WarcFiles(tmp_path, "t", 10**9, {"software": "trawler/test"})
    captured, _ = files.append_capture(page(), info())
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    record_id, appended = files.append_screenshot("proxy", page().url, png,
                                                  captured.response_id, datetime.now(UTC))
    files.close()
    path = tmp_path / appended.name
    assert warcio_check(path).returncode == 0
    resource = next(r for r in records(path) if r[0] == "resource")
    assert resource[1]["WARC-Target-URI"] == f"urn:screenshot:{page().url}"
    assert resource[1]["WARC-Concurrent-To"] == captured.response_id
    assert resource[1]["WARC-Record-ID"] == record_id
    assert resource[1]["Content-Type"] == "image/png" and resource[2] == png


def test_rotation_by_size_and_one_file_per_route(tmp_path: Path) -> None:
    files = WarcFiles(tmp_path, "t", 3000, {"software": "trawler/test"})
    closed = []
    for n in range(12):
        files.append_capture(page(n, body=bytes(range(256)) * 8), info())
        if (done := files.rotate_if_full("proxy")) is not None:
            closed.append(done)
    files.append_capture(page(99, route="tor", ip_address=None), info())
    closed += files.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) >= 3 and any(n.endswith("-tor.warc.gz") for n in names)
    assert warcio_check(*(tmp_path / n for n in names)).returncode == 0
    for done in closed:
        data = (tmp_path / done.name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (done.size, done.sha256)
        assert records(tmp_path / done.name)[0][0] == "warcinfo"
    total = sum(len([r for r in records(tmp_path / n) if r[0] == "response"]) for n in names)
    assert total == 13


FULL_DISK_SCRIPT = textwrap.dedent("""
    import resource, sys, json
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from tests.test_warc import page, info
    from crawler.evidence.warc import WarcFiles, EvidenceStorageFull
    files = WarcFiles(Path(sys.argv[1]), "t", 10**9, {"software": "trawler/test"})
    resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))  # the "disk" holds 20 kB
    written = []
    try:
        for n in range(1000):
            _, appended = files.append_capture(page(n, body=bytes(range(256)) * 10), info())
            written.append([appended.name, appended.offset, appended.length, appended.sha256])
    except EvidenceStorageFull as exc:
        print(json.dumps({"written": written, "error": str(exc)}))
    """)


def test_full_disk_raises_and_keeps_every_record_written(tmp_path: Path) -> None:
    out = tmp_path / "warc"
    run = subprocess.run([sys.executable, "-c", FULL_DISK_SCRIPT, str(out), str(ROOT)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    written = result["written"]
    assert written and "no space left for evidence" in result["error"]
    path = out / written[0][0]
    data = path.read_bytes()
    assert len(data) == written[-1][1] + written[-1][2]  # the partial record was cut off
    for _, offset, length, digest in written:
        assert hashlib.sha256(data[offset:offset + length]).hexdigest() == digest
    assert warcio_check(path).returncode == 0
    assert len([r for r in records(path) if r[0] == "response"]) == len(written)
