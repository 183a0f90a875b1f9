"""Training: fit the pipeline on labelled corpus files, choose the threshold on dev, and write the
model directory (model.json, model.npz, card.json, card.md, pr_curve.png, confusion.png)."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve
from sklearn.pipeline import Pipeline

from classifiers.artifact import ARRAYS_FILE, MODEL_FILE, save_model
from classifiers.corpus import (
    AUTHORED_FILE,
    AUTHORED_SOURCE,
    Example,
    read_corpus,
    scorable,
    training_weights,
)
from classifiers.model import TrawlerModel, build_pipeline, column_signs, model_version

MIN_PRECISION = 0.97
# A page is flagged only when the calibrated score says "drugs" is at least as likely as not.
MIN_THRESHOLD = 0.5


def labelled(examples: Sequence[Example]) -> list[Example]:
    """Examples with a drugs/benign label (gray ones are neither target nor benign)."""
    return [e for e in examples if e.label != "gray"]


def fit_pipeline(examples: Sequence[Example], exclude_families: Sequence[str] = (),
                 n_splits: int = 5) -> Pipeline:
    examples = labelled(examples)
    if len({e.y for e in examples}) < 2:
        raise ValueError("training needs both drugs and benign documents")
    pipeline = build_pipeline(exclude_families=exclude_families)
    pipeline.set_params(clf__n_splits=n_splits)
    # As ``pipeline.fit`` would, but the classifier learns which way each lexicon feature may
    # point, which is known only once the lexicon is read.
    features = pipeline.named_steps["features"]
    X = features.fit_transform([e.as_text() for e in examples])
    pipeline.named_steps["clf"].fit(X, [e.y for e in examples],
                                    sample_weight=training_weights(examples),
                                    groups=[e.group for e in examples],
                                    signs=column_signs(features))
    return pipeline


def choose_threshold(y: Sequence[int], scores: Sequence[float],
                     min_precision: float = MIN_PRECISION) -> float:
    """The threshold with the highest recall whose precision is at least ``min_precision``,
    never below ``MIN_THRESHOLD``."""
    y, scores = np.asarray(y), np.asarray(scores)
    if not y.any() or y.all():
        return MIN_THRESHOLD
    precision, recall, thresholds = precision_recall_curve(y, scores)
    ok = np.flatnonzero(precision[:-1] >= min_precision)
    if not len(ok):
        return float(max(MIN_THRESHOLD, scores.max()))
    best = ok[np.argmax(recall[ok])]
    return float(max(MIN_THRESHOLD, thresholds[best]))


def _file_info(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": str(path), "sha256": digest}


def train(data: Sequence[str | Path], out: str | Path, dev: Sequence[str | Path] = (),
          leave_out: Sequence[str] = (), leave_out_sources: Sequence[str] = (),
          authored: bool = True,
          progress: Callable[[str], None] = lambda _msg: None,
          jobs: int | None = None) -> dict[str, Any]:
    """Train on ``data`` (+ authored text), pick the threshold on ``dev``, write the model dir.

    Returns the card. Without dev files the threshold is chosen on out-of-fold training scores.
    ``leave_out`` names substance families and ``leave_out_sources`` sources ("a+b", "all") to
    train without, each in turn, for the card's figures on what the model has never seen;
    ``jobs`` of those train at once (``classifiers.evaluate.leave_outs``).
    """
    from classifiers.evaluate import evaluate, leave_outs, source_groups, write_plots
    from classifiers.report import write_card

    started = time.time()
    out = Path(out)
    data_paths = [Path(p) for p in data]
    train_examples = read_corpus(data_paths)
    if authored and AUTHORED_FILE.is_file():
        train_examples += read_corpus([AUTHORED_FILE])
    dev_examples = scorable(labelled(read_corpus(dev))) if dev else []
    groups = source_groups(leave_out_sources, train_examples)  # fails before a long training
    progress(f"training on {len(labelled(train_examples))} documents")
    pipeline = fit_pipeline(train_examples)
    provisional = TrawlerModel(pipeline, MIN_THRESHOLD, model_version(pipeline))
    if dev_examples:
        scores = provisional.scores([e.as_text() for e in dev_examples])
        threshold = choose_threshold([e.y for e in dev_examples], scores)
        rule = (f"highest recall on dev with precision >= {MIN_PRECISION}, "
                f"not below {MIN_THRESHOLD}")
    else:
        threshold, rule = MIN_THRESHOLD, "no dev data: default threshold"
    model = TrawlerModel(pipeline, threshold, provisional.version)
    save_model(model, out)
    counts = Counter((e.source, e.lang, e.label) for e in train_examples)
    n_authored = sum(1 for e in train_examples if e.source == AUTHORED_SOURCE)
    card: dict[str, Any] = {
        "model": model.version,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "threshold": round(threshold, 6),
        "threshold_rule": rule,
        "pipeline": _describe(pipeline),
        "data": {
            "train_files": [_file_info(p) for p in data_paths],
            "authored_file": _file_info(AUTHORED_FILE) if n_authored else None,
            "authored_share": round(n_authored / max(1, len(train_examples)), 4),
            "dev_files": [_file_info(Path(p)) for p in dev],
            "train_counts": [
                {"source": s, "lang": lang, "label": label, "n": n}
                for (s, lang, label), n in sorted(counts.items())
            ],
            "gray_left_out_of_training": sum(1 for e in train_examples if e.label == "gray"),
        },
        "size_bytes": sum((out / f).stat().st_size for f in (MODEL_FILE, ARRAYS_FILE)),
    }
    if dev_examples:
        scores = model.scores([e.as_text() for e in dev_examples])
        card["dev"] = evaluate(model, read_corpus(dev), scores=None)
        write_plots(out, [e.y for e in dev_examples], scores, threshold)
    if dev_examples:
        from classifiers.speed import bench_pages, measure

        rate, card["speed"] = measure(model, bench_pages(dev_examples, 2000))
        card["pages_per_second"] = round(rate)
    card["load_seconds"] = _load_seconds(out)
    for key, result in leave_outs(leave_out, groups, train_examples, dev_examples, jobs):
        progress(_LEAVE_OUT_LINES[key].format(**result))
        card.setdefault(key, []).append(result)
    card["training_seconds"] = round(time.time() - started, 1)
    write_card(out, card)
    return card


_LEAVE_OUT_LINES = {
    "leave_one_family_out": "leave-one-family-out {family}: recall {recall} on {listings} "
                            "listings (dev {dev_recall} on {dev_listings})",
    "leave_one_source_out": "leave-one-source-out {source}: recall {recall}, false-positive "
                            "rate {false_positive_rate} on {documents} documents",
}


def _load_seconds(directory: Path) -> float:
    """How long ``load_model`` takes on the written model (imports already done)."""
    from classifiers.artifact import load_model

    started = time.perf_counter()
    load_model(directory)
    return round(time.perf_counter() - started, 3)


def _describe(pipeline: Pipeline) -> dict[str, Any]:
    features = pipeline.named_steps["features"]
    out: dict[str, Any] = {}
    for name, transformer in features.transformer_list:
        params = {k: v for k, v in transformer.get_params().items()
                  if isinstance(v, (int, float, str, tuple, list)) and k != "lexicon_dir"}
        width = getattr(transformer, "n_features_out_", None) or len(transformer.feature_names_)
        out[name] = {"type": type(transformer).__name__, "params": params, "n_features": width}
    clf = pipeline.named_steps["clf"]
    out["clf"] = {"type": type(clf).__name__, "params": clf.get_params(),
                  "calibration": {"a": clf.calib_a_, "b": clf.calib_b_}}
    return json.loads(json.dumps(out, default=list))
