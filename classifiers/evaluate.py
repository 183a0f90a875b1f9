"""Evaluation: the metrics object of ``trawler evaluate --json`` (DESIGN.md), plots for the model
card, and leave-one-family-out recall on substance families the model never saw."""

from __future__ import annotations

import multiprocessing
import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.corpus import AUTHORED_SOURCE, Example, scorable
from classifiers.features import LexiconFeatures
from classifiers.lexicon import load_families
from classifiers.model import TrawlerModel, model_version


def _rates(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    positives = int(y.sum())
    negatives = int(len(y) - positives)
    return {
        "n": len(y),
        "positives": positives,
        "recall": round(float((pred & y).sum() / positives), 4) if positives else None,
        "false_positive_rate": (
            round(float((pred & ~y).sum() / negatives), 4) if negatives else None),
    }


def metrics(examples: Sequence[Example], scores: Sequence[float], threshold: float,
            model: str) -> dict[str, Any]:
    """Metrics of scored examples; gray ones are counted and left out."""
    keep = [i for i, e in enumerate(examples) if e.label != "gray"]
    y = np.array([examples[i].y for i in keep], dtype=bool)
    pred = np.array([scores[i] >= threshold for i in keep], dtype=bool)
    tp = int((pred & y).sum())
    precision = tp / int(pred.sum()) if pred.any() else 0.0
    recall = tp / int(y.sum()) if y.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    result: dict[str, Any] = {
        "n": len(keep),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "threshold": round(float(threshold), 6),
        "model": model,
    }
    for key, attr in (("by_source", "source"), ("by_lang", "lang")):
        groups: dict[str, list[int]] = defaultdict(list)
        for j, i in enumerate(keep):
            groups[getattr(examples[i], attr)].append(j)
        result[key] = {name: _rates(y[idx], pred[idx]) for name, idx in sorted(groups.items())}
    result["gray"] = len(examples) - len(keep)
    return result


def evaluate(model: TrawlerModel, examples: Sequence[Example],
             scores: Sequence[float] | None = None) -> dict[str, Any]:
    """``trawler evaluate --json``: the model on labelled examples (authored text excluded)."""
    examples = scorable(examples)
    if scores is None:
        scores = model.scores([e.as_text() for e in examples]) if examples else []
    return metrics(examples, list(scores), model.threshold, model.version)


def family_members(family: str, examples: Sequence[Example]) -> list[bool]:
    """Which drug listings belong to a substance family: by market category or by its names."""
    spec = load_families()[family]
    lexicon = LexiconFeatures().fit([])
    feature = f"substance:{family}"
    return [
        e.label == "drugs" and (e.category in spec.categories or feature in lexicon.explain(e.text))
        for e in examples
    ]


def _train_without(train_examples: Sequence[Example], dev_examples: Sequence[Example],
                   in_train: Sequence[bool], name: str, exclude_families: Sequence[str] = ()
                   ) -> tuple[np.ndarray, list[Example], np.ndarray]:
    """Train without the training documents marked ``in_train`` (3 calibration folds); return
    the scores of all dev documents, and the held-back training documents that are scored (no
    authored text) with their scores."""
    from classifiers.train import fit_pipeline

    kept = [e for e, held in zip(train_examples, in_train, strict=True) if not held]
    pipeline = fit_pipeline(kept, exclude_families=exclude_families, n_splits=3)
    model = TrawlerModel(pipeline, 0.5, model_version(pipeline, name))
    dev_scores = model.scores([e.as_text() for e in dev_examples])
    held = scorable(e for e, member in zip(train_examples, in_train, strict=True) if member)
    held_scores = model.scores([e.as_text() for e in held]) if held else np.array([])
    return dev_scores, held, held_scores


def leave_family_out(family: str, train_examples: Sequence[Example],
                     dev_examples: Sequence[Example]) -> dict[str, Any]:
    """Train without a family's listings and without its lexicon terms; report recall on its
    listings in dev and on those held back from training. Authored text is held back like the
    rest but never scored: it is training text only."""
    from classifiers.train import choose_threshold, labelled

    train_examples = labelled(train_examples)
    dev_examples = scorable(labelled(dev_examples))
    in_dev = family_members(family, dev_examples)
    dev_scores, _, held_scores = _train_without(
        train_examples, dev_examples, family_members(family, train_examples),
        f"leave-out-{family}", exclude_families=[family])
    rest = [i for i, member in enumerate(in_dev) if not member]
    threshold = choose_threshold([dev_examples[i].y for i in rest], dev_scores[rest])
    dev_hits = [bool(s >= threshold) for s, m in zip(dev_scores, in_dev, strict=True) if m]
    held_hits = [bool(s >= threshold) for s in held_scores]
    negatives = [s >= threshold for s, e in zip(dev_scores, dev_examples, strict=True) if not e.y]
    all_hits = dev_hits + held_hits
    return {
        "family": family,
        "threshold": round(threshold, 6),
        "dev_listings": len(dev_hits),
        "dev_recall": round(float(np.mean(dev_hits)), 4) if dev_hits else None,
        "held_out_train_listings": len(held_hits),
        "held_out_train_recall": round(float(np.mean(held_hits)), 4) if held_hits else None,
        "listings": len(all_hits),
        "recall": round(float(np.mean(all_hits)), 4) if all_hits else None,
        "dev_false_positive_rate": round(float(np.mean(negatives)), 4) if negatives else None,
    }


def training_sources(examples: Sequence[Example]) -> list[str]:
    """The sources a model can be trained without (authored text is always trained on)."""
    return sorted({e.source for e in examples
                   if e.source != AUTHORED_SOURCE and e.label != "gray"})


def source_groups(values: Sequence[str], examples: Sequence[Example]) -> list[list[str]]:
    """``--leave-out-source`` values as groups of sources: "a+b" leaves two out together,
    "all" each training source in turn."""
    known = training_sources(examples)
    groups: list[list[str]] = []
    for value in values:
        for group in ([[s] for s in known] if value == "all" else [value.split("+")]):
            _check_sources(group, known)
            if sorted(group) not in groups:
                groups.append(sorted(group))
    return groups


def _check_sources(group: Sequence[str], known: Sequence[str]) -> None:
    unknown = sorted(set(group) - set(known))
    if unknown or not group:
        raise ValueError(f"unknown training source: {', '.join(unknown) or '-'}; choose from: "
                         f"all, {', '.join(known)} (join two with '+')")


def leave_source_out(sources: Sequence[str], train_examples: Sequence[Example],
                     dev_examples: Sequence[Example]) -> dict[str, Any]:
    """Train without every training document of these sources (left out together, as one
    kind of site may come from two collections); report how their documents, in dev and held
    back from training, are scored: a proxy for sites unlike any the model was trained on.

    Pages are flagged at ``MIN_THRESHOLD``, where the calibrated score says "drugs" is as likely
    as not. Re-chosen on dev without the source, the threshold would rest on whatever
    positives are left: without Agora, 43 pages against 1,200 negatives, and two false
    positives among them pushed it to 0.98."""
    from classifiers.train import MIN_THRESHOLD, labelled

    _check_sources(sources, training_sources(train_examples))
    left = set(sources)
    train_examples = labelled(train_examples)
    dev_examples = scorable(labelled(dev_examples))
    in_dev = [e.source in left for e in dev_examples]
    dev_scores, held, held_scores = _train_without(
        train_examples, dev_examples, [e.source in left for e in train_examples],
        "leave-out-source")
    threshold = MIN_THRESHOLD
    scored = [(e.y, float(s)) for e, s, m in zip(dev_examples, dev_scores, in_dev, strict=True)
              if m] + [(e.y, float(s)) for e, s in zip(held, held_scores, strict=True)]
    y = np.array([label for label, _ in scored], dtype=bool)
    flagged = np.array([s >= threshold for _, s in scored], dtype=bool)
    rates = _rates(y, flagged)
    return {
        "source": "+".join(sorted(left)),
        "threshold": round(threshold, 6),
        "documents": len(scored),
        "dev_documents": len(scored) - len(held),
        "drug_documents": rates["positives"],
        "recall": rates["recall"],
        "missed": int((y & ~flagged).sum()),
        "false_positive_rate": rates["false_positive_rate"],
        "false_positives": int((~y & flagged).sum()),
    }


def write_plots(directory: Path, y: Sequence[int], scores: Sequence[float],
                threshold: float) -> None:
    """pr_curve.png and confusion.png for the model card."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix, precision_recall_curve

    y, scores = np.asarray(y), np.asarray(scores)
    precision, recall, _ = precision_recall_curve(y, scores)
    pred = scores >= threshold
    at_p = (pred & (y == 1)).sum() / max(1, pred.sum())
    at_r = (pred & (y == 1)).sum() / max(1, (y == 1).sum())
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.plot(recall, precision, lw=1.5)
    ax.scatter([at_r], [at_p], color="red", zorder=3, label=f"threshold {threshold:.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall on dev",
           xlim=(0, 1.01), ylim=(0, 1.01))
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(directory / "pr_curve.png")
    plt.close(fig)
    matrix = confusion_matrix(y, pred.astype(int), labels=[0, 1])
    fig, ax = plt.subplots(figsize=(4, 3.5), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center",
                color="white" if value > matrix.max() / 2 else "black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["benign", "drugs"],
           yticklabels=["benign", "drugs"], xlabel="predicted", ylabel="true",
           title=f"Dev at threshold {threshold:.3f}")
    fig.tight_layout()
    fig.savefig(directory / "confusion.png")
    plt.close(fig)


def all_families() -> list[str]:
    return list(load_families())


# Leave-out models trained side by side at most (each holds the corpus's features, 1-2 GB).
MAX_JOBS = 4
_data: tuple[list[Example], list[Example]] = ([], [])


def _keep_data(train_examples: list[Example], dev_examples: list[Example]) -> None:
    global _data
    _data = (train_examples, dev_examples)


def _leave_out(task: tuple[str, Any]) -> dict[str, Any]:
    key, item = task
    leave = leave_family_out if key == "leave_one_family_out" else leave_source_out
    return leave(item, *_data)


def leave_outs(families: Sequence[str], groups: Sequence[Sequence[str]],
               train_examples: Sequence[Example], dev_examples: Sequence[Example],
               jobs: int | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """("leave_one_family_out" or "leave_one_source_out", its row) for each family, then each
    group of sources, in that order; trained ``jobs`` at a time (by default one per CPU, at
    most ``MAX_JOBS``) in fresh processes, which are given the corpus once."""
    tasks = [*(("leave_one_family_out", f) for f in families),
             *(("leave_one_source_out", list(g)) for g in groups)]
    train_examples, dev_examples = list(train_examples), list(dev_examples)
    keys = [key for key, _ in tasks]
    jobs = min(jobs or os.cpu_count() or 1, MAX_JOBS, len(tasks))
    if jobs <= 1:
        _keep_data(train_examples, dev_examples)
        try:
            yield from zip(keys, map(_leave_out, tasks), strict=True)
        finally:  # this process does not keep the corpus afterwards
            _keep_data([], [])
        return
    context = multiprocessing.get_context("spawn")  # no forked copy of a parent's threads
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_keep_data,
                               initargs=(train_examples, dev_examples))
    try:
        yield from zip(keys, pool.map(_leave_out, tasks), strict=True)
    finally:  # a failed leave-out (or Ctrl-C) does not wait for the ones not yet started
        pool.shutdown(cancel_futures=True)
