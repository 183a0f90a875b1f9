"""The model card: card.json (machine-readable) and card.md (for people), from one dict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _table(title: str, rows: dict[str, dict[str, Any]]) -> list[str]:
    lines = [f"| {title} | n | positives | recall | false-positive rate |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['n']} | {r['positives']} | {_pct(r['recall'])} | "
                     f"{_pct(r['false_positive_rate'])} |")
    return lines


def render_card(card: dict[str, Any]) -> str:
    data = card["data"]
    lines = [
        f"# Model card: {card['model']}",
        "",
        "trawler's page classifier: is this page an online shop selling illegal drugs or new "
        "psychoactive substances? Hashed word and character n-grams, trawler's own lexicons "
        "(configs/lexicons: substance families, NPS naming patterns, dead-drop and shop "
        "vocabulary, benign-context cues: police and court reporting, forums, harm reduction, "
        "other goods), price-per-unit patterns and payment-identifier counts feed one logistic "
        "regression with Platt calibration (group-aware folds). Co-occurrence features tell "
        "*selling a drug* (a substance named within a line or sentence of a price, dead drop or "
        "cart) from *reporting on drugs* (the same with police, court or reported-speech words "
        "nearby) and from *selling something else* (accounts, documents, weapons with no "
        "substance). Each branch reads only the head and tail of a long page (words and lexicon: "
        "first 6,000 and last 1,000 characters; characters: first 1,500 and last 300).",
        "",
        "Reasons: pages scoring at least 0.2 get their ten strongest contributions (lexicon "
        "features with the page's matched terms, word n-grams, and all character n-grams as one "
        "`char_ngrams` sum); lower-scoring pages get none (`TrawlerModel.explain` gives them on "
        "demand).",
        "",
        f"- created: {card['created']}",
        f"- threshold: **{card['threshold']}** ({card['threshold_rule']})",
        f"- artifact: model.json + model.npz, {card['size_bytes'] / 1e6:.1f} MB (plain JSON and "
        "NumPy arrays, no pickle: loading rebuilds the Pipeline from trawler's own classes)",
        f"- load time: {card.get('load_seconds', '–')} s (`load_model`, imports excluded)",
        f"- training time: {card.get('training_seconds', '–')} s",
        "",
        "## Data",
        "",
        "Training files: " + ", ".join(
            f"`{f['path']}` (sha256 {f['sha256'][:12]}…)" for f in data["train_files"]),
        "",
        f"Authored text (`classifiers/data/authored.jsonl`, source `authored`): "
        f"{data['authored_share'] * 100:.1f}% of training documents; never used for evaluation.",
        f"Gray documents (unlicensed prescription / steroid shops) left out of training: "
        f"{data['gray_left_out_of_training']}.",
        "",
        "| source | lang | label | n |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['source']} | {r['lang']} | {r['label']} | {r['n']} |"
              for r in data["train_counts"]]
    dev = card.get("dev")
    if dev:
        lines += [
            "",
            "## Dev metrics",
            "",
            "Dev files: " + ", ".join(f"`{f['path']}`" for f in data["dev_files"]),
            "",
            f"n = {dev['n']}, precision {dev['precision']}, recall {dev['recall']}, "
            f"F1 {dev['f1']} at threshold {dev['threshold']} (gray left out: {dev['gray']}).",
            "",
            *_table("source", dev["by_source"]),
            "",
            *_table("lang", dev["by_lang"]),
            "",
            "![precision-recall curve](pr_curve.png) ![confusion matrix](confusion.png)",
        ]
    leave = card.get("leave_one_family_out")
    if leave:
        lines += [
            "",
            "## Never-seen substances (leave one family out)",
            "",
            "Each row: a model trained without the family's listings *and* without the family's "
            "lexicon terms and patterns, threshold re-chosen on dev without the family. Recall "
            "is on the family's listings in dev and on those held back from training.",
            "",
            "| family | threshold | dev listings | dev recall | held-back train listings | "
            "held-back recall | all listings | recall | dev FPR |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in leave:
            lines.append(
                f"| {r['family']} | {r['threshold']:.3f} | {r['dev_listings']} | "
                f"{_pct(r['dev_recall'])} | {r['held_out_train_listings']} | "
                f"{_pct(r['held_out_train_recall'])} | {r['listings']} | {_pct(r['recall'])} | "
                f"{_pct(r['dev_false_positive_rate'])} |")
    if card.get("speed"):
        lines += ["", "## Speed", "", card["speed"]]
    return "\n".join(lines) + "\n"


def write_card(directory: Path, card: dict[str, Any]) -> None:
    (directory / "card.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (directory / "card.md").write_text(render_card(card), encoding="utf-8")
