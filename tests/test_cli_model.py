"""``trawler train``, ``evaluate`` and ``classify`` end to end on a tiny corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import _register, cli
from tests.test_classifier import BENIGN, SHOPS, STRONG_SHOP

_register()


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "train.jsonl"
    rows = []
    for i, text in enumerate(SHOPS + BENIGN):
        label = "drugs" if i < len(SHOPS) else "benign"
        rows.append({"id": str(i), "source": "shops" if label == "drugs" else "news",
                     "url": None, "lang": "ru", "label": label, "kind": "test",
                     "group": f"g{i // 2}", "text": text, "meta": {}})
    rows.append({"id": "gray", "source": "rx", "url": None, "lang": "en", "label": "gray",
                 "kind": "rx-or-steroid-shop", "group": "gx", "text": "steroids", "meta": {}})
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model_dir(corpus_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "m"
    result = CliRunner().invoke(cli, ["train", "--data", str(corpus_file), "--dev",
                                      str(corpus_file), "--out", str(out), "--no-authored"])
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_model_and_card(model_dir: Path) -> None:
    for name in ("model.json", "model.npz", "card.json", "card.md", "pr_curve.png",
                 "confusion.png"):
        assert (model_dir / name).is_file(), name
    card = json.loads((model_dir / "card.json").read_text(encoding="utf-8"))
    assert card["dev"]["gray"] == 1 and 0.5 <= card["threshold"] <= 1.0


def test_evaluate_leaves_a_source_out(model_dir: Path, corpus_file: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["evaluate", "--data", str(corpus_file), "--model",
                                 str(model_dir), "--leave-out-source", "bogus"])
    assert result.exit_code == 2
    assert "unknown training source: bogus; choose from: all, news, shops" in result.output
    # Without the news the model still learns benign text from the authored file; the news
    # pages are scored in --data and where they were held back from training.
    result = runner.invoke(cli, ["evaluate", "--data", str(corpus_file), "--model",
                                 str(model_dir), "--leave-out-source", "news", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)["leave_one_source_out"]
    assert (row["source"], row["documents"], row["dev_documents"]) == (
        "news", 2 * len(BENIGN), len(BENIGN))
    assert row["drug_documents"] == 0 and row["recall"] is None
    assert 0 <= row["false_positives"] <= 2 * len(BENIGN)


def test_train_reports_what_it_left_out(corpus_file: Path, tmp_path: Path) -> None:
    """--leave-out and --leave-out-source put a row each in the card, and say so as they go."""
    out = tmp_path / "m"
    result = CliRunner().invoke(cli, ["train", "--data", str(corpus_file), "--dev",
                                      str(corpus_file), "--out", str(out), "--leave-out",
                                      "cathinones", "--leave-out-source", "news"])
    assert result.exit_code == 0, result.output
    card = json.loads((out / "card.json").read_text(encoding="utf-8"))
    [family] = card["leave_one_family_out"]
    [source] = card["leave_one_source_out"]
    assert family["family"] == "cathinones" and family["listings"] >= 2
    assert (source["source"], source["documents"]) == ("news", 2 * len(BENIGN))
    assert "leave-one-family-out cathinones: recall" in result.output
    assert "leave-one-source-out news: recall None, false-positive rate" in result.output
    assert "## Never-seen sources" in (out / "card.md").read_text(encoding="utf-8")


def test_card_shows_never_seen_sources(model_dir: Path) -> None:
    from classifiers.report import render_card

    card = json.loads((model_dir / "card.json").read_text(encoding="utf-8"))
    assert "## Never-seen sources" not in render_card(card)
    card["leave_one_source_out"] = [{
        "source": "bots+news", "threshold": 0.5, "documents": 16, "dev_documents": 8,
        "drug_documents": 4, "recall": 0.75, "missed": 1, "false_positive_rate": 0.0833,
        "false_positives": 1}]
    text = render_card(card)
    assert "## Never-seen sources (leave one source out)" in text
    assert "| bots+news | 16 | 8 | 4 | 0.750 | 1 | 0.083 | 1 |" in text


def test_evaluate_json(model_dir: Path, corpus_file: Path) -> None:
    result = CliRunner().invoke(cli, ["evaluate", "--data", str(corpus_file), "--model",
                                      str(model_dir), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"n", "precision", "recall", "f1", "threshold", "model", "by_source",
            "by_lang", "gray"} <= set(report)
    assert report["gray"] == 1 and report["n"] == len(SHOPS) + len(BENIGN)


def test_classify_text_and_html(model_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["classify", "-", "--model", str(model_dir), "--json"],
                           input=STRONG_SHOP.encode())
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output)
    assert verdict["label"] == "drugs" and verdict["reasons"]
    page = tmp_path / "p.html"
    page.write_text(f"<html><head><title>Новости</title></head><body><p>{BENIGN[0]}</p>"
                    "</body></html>", encoding="utf-8")
    result = runner.invoke(cli, ["classify", str(page), "--url", "http://news.example/a",
                                 "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.split()[0] in ("drugs", "benign")


def test_user_errors_are_one_line(model_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["evaluate", "--data", str(tmp_path / "missing.jsonl"),
                                 "--model", str(model_dir)])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(cli, ["classify", str(tmp_path / "nope.html"), "--model",
                                 str(model_dir)])
    assert result.exit_code == 2 and "cannot read" in result.output
    result = runner.invoke(cli, ["classify", "-", "--model", str(tmp_path / "none")], input=b"x")
    assert result.exit_code == 2 and "no model" in result.output
    result = runner.invoke(cli, ["evaluate", "--data", str(tmp_path / "x"), "--leave-out",
                                 "bogus", "--model", str(model_dir)])
    assert result.exit_code == 2


def test_a_broken_lexicon_stops_training_in_one_line(
        corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelt key in selling.toml: train (with and without --leave-out, which reads the
    families first) exits 2 naming the file, table and key, and writes no model."""
    from classifiers import lexicon

    lexicons = tmp_path / "lexicons"
    lexicons.mkdir()
    for name in ("substances.toml", "selling.toml"):
        (lexicons / name).write_text((lexicon.LEXICON_DIR / name).read_text(encoding="utf-8"),
                                     encoding="utf-8")
    with (lexicons / "selling.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[extra]\nterms = ["x"]\nas_listd = ["y"]\n')
    monkeypatch.setattr(lexicon, "LEXICON_DIR", lexicons)
    for extra in ([], ["--leave-out", "cannabis"]):
        out = tmp_path / f"m{len(extra)}"
        result = CliRunner().invoke(cli, ["train", "--data", str(corpus_file), "--out", str(out),
                                          "--no-authored", *extra])
        assert result.exit_code == 2, result.output
        assert "[extra] has unknown keys as_listd" in result.output
        assert "Traceback" not in result.output and not out.exists()
