"""The page classifier: one scikit-learn Pipeline, its calibrated verdicts with reasons, and
safe saving and loading (skops, with an explicit list of trusted types)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import skops.io
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import FeatureUnion, Pipeline

from classifiers.features import LexiconFeatures, Ngrams

LABELS = ("benign", "drugs")
MODEL_FILE = "model.skops"
# Everything a trawler model file may contain beyond what skops trusts by default.
TRUSTED_TYPES = (
    "classifiers.features.LexiconFeatures",
    "classifiers.features.Ngrams",
    "classifiers.model.CalibratedLinear",
)


class ModelError(Exception):
    """A model directory is missing, incomplete or holds something it must not."""


@dataclass
class Document:
    """One page to classify: its visible text, title, and where known its URL and language."""

    text: str
    title: str = ""
    url: str | None = None
    lang: str | None = None

    def as_text(self) -> str:
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass
class PageVerdict:
    """A page's label, calibrated score of being a drug shop, and the reasons behind it.

    Each reason is ``{"feature", "term", "weight"}``; ``weight`` is the feature's contribution to
    the log-odds of "drugs" (positive pushes towards drugs), strongest first.
    """

    label: str
    score: float
    threshold: float
    model_version: str
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CalibratedLinear(ClassifierMixin, BaseEstimator):
    """Logistic regression with Platt scaling fitted on group-aware out-of-fold scores.

    One linear model (``coef_``) serves every verdict, so each feature's contribution to a score
    is exact; calibration folds never split a ``groups`` value between train and test.
    """

    def __init__(self, C: float = 4.0, n_splits: int = 5, max_iter: int = 3000,
                 random_state: int = 0):
        self.C = C
        self.n_splits = n_splits
        self.max_iter = max_iter
        self.random_state = random_state

    def _base(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, max_iter=self.max_iter, solver="liblinear",
                                  random_state=self.random_state)

    def fit(self, X: Any, y: Sequence[int], sample_weight: Any = None,
            groups: Any = None) -> CalibratedLinear:
        y = np.asarray(y, dtype=int)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        per_class = min(len(set(groups[y == c])) for c in (0, 1))
        n_splits = min(self.n_splits, per_class)
        self.calib_a_, self.calib_b_ = 1.0, 0.0
        if n_splits >= 2:
            oof = np.zeros(len(y))
            folds = StratifiedGroupKFold(n_splits, shuffle=True, random_state=self.random_state)
            for train, test in folds.split(X, y, groups):
                model = self._base().fit(X[train], y[train], sample_weight=weight[train])
                oof[test] = model.decision_function(X[test])
            platt = LogisticRegression(C=1e4).fit(oof.reshape(-1, 1), y, sample_weight=weight)
            self.calib_a_, self.calib_b_ = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        model = self._base().fit(X, y, sample_weight=weight)
        self.coef_ = model.coef_[0].astype(np.float32)
        self.intercept_ = float(model.intercept_[0])
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        return np.asarray(X @ self.coef_, dtype=float).ravel() + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        z = self.calib_a_ * self.decision_function(X) + self.calib_b_
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        return np.column_stack([1 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def build_pipeline(exclude_families: Sequence[str] = (), C: float = 4.0) -> Pipeline:
    """The classifier: word and character n-grams plus lexicon features, then a calibrated
    linear model. Text caps keep serving above 1,000 pages/s on one core."""
    features = FeatureUnion([
        ("words", Ngrams(kind="word", ngram_range=(1, 2), max_chars=10_000, max_words=800,
                         min_df=2, max_features=150_000)),
        ("chars", Ngrams(kind="char", ngram_range=(3, 5), max_chars=400, min_df=3,
                         max_features=100_000)),
        ("lexicon", LexiconFeatures(max_chars=10_000, exclude_families=tuple(exclude_families))),
    ])
    return Pipeline([("features", features), ("clf", CalibratedLinear(C=C))])


class TrawlerModel:
    """A trained pipeline with its decision threshold and version: classifies batches of pages.

    Safe to share between threads for reading: ``classify`` keeps no per-call state.
    """

    def __init__(self, pipeline: Pipeline, threshold: float, version: str,
                 card: dict[str, Any] | None = None):
        self.pipeline = pipeline
        self.threshold = float(threshold)
        self.version = version
        self.card = card or {}

    @property
    def features(self) -> FeatureUnion:
        return self.pipeline.named_steps["features"]

    @property
    def clf(self) -> CalibratedLinear:
        return self.pipeline.named_steps["clf"]

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        return self.pipeline.predict_proba(list(texts))[:, 1]

    def classify(self, docs: Sequence[Document], reasons: int = 10) -> list[PageVerdict]:
        """Verdicts for a batch of pages, each with its ``reasons`` strongest reasons."""
        texts = [d.as_text() for d in docs]
        if not texts:
            return []
        X = sp.csr_matrix(self.features.transform(texts))
        scores = self.clf.predict_proba(X)[:, 1]
        blocks = self._blocks()
        verdicts = []
        for i, text in enumerate(texts):
            score = float(scores[i])
            row = slice(X.indptr[i], X.indptr[i + 1])
            verdicts.append(PageVerdict(
                label=LABELS[int(score >= self.threshold)], score=round(score, 6),
                threshold=self.threshold, model_version=self.version,
                reasons=self._reasons(text, X.indices[row], X.data[row], blocks, reasons)
                if reasons else []))
        return verdicts

    def explain(self, text: str, k: int = 10) -> list[dict[str, Any]]:
        """The ``k`` features that moved this text's score most, with the text's own terms."""
        row = sp.csr_matrix(self.features.transform([text]))
        return self._reasons(text, row.indices, row.data, self._blocks(), k)

    def _reasons(self, text: str, indices: np.ndarray, data: np.ndarray,
                 blocks: list[tuple[str, int, Any, int]], k: int) -> list[dict[str, Any]]:
        contrib = data * self.clf.coef_[indices]
        order = np.argsort(-np.abs(contrib))[: 3 * k]
        reasons: list[dict[str, Any]] = []
        seen: set[tuple[str, str | None]] = set()
        lexicon_terms: dict[str, list[str]] | None = None
        for j in order:
            index, weight = int(indices[j]), float(contrib[j])
            if abs(weight) < 1e-6:
                break
            name, start, transformer, _ = next(b for b in blocks if b[1] <= index < b[1] + b[3])
            local = index - start
            if name == "lexicon":
                feature = transformer.feature_names_[local]
                if lexicon_terms is None:
                    lexicon_terms = transformer.explain(text)
                term = ", ".join(lexicon_terms.get(feature) or []) or None
            else:
                feature = "word_ngram" if name == "words" else "char_ngram"
                term = transformer.terms()[local]
            if (feature, term) in seen:
                continue
            seen.add((feature, term))
            reasons.append({"feature": feature, "term": term, "weight": round(weight, 4)})
            if len(reasons) == k:
                break
        return reasons

    def _blocks(self) -> list[tuple[str, int, Any, int]]:
        blocks, start = [], 0
        for name, transformer in self.features.transformer_list:
            if name == "lexicon":
                width = len(transformer.feature_names_)
            else:
                width = len(transformer.vocabulary_)
            blocks.append((name, start, transformer, width))
            start += width
        return blocks


def model_version(pipeline: Pipeline, name: str = "trawler") -> str:
    clf = pipeline.named_steps["clf"]
    digest = hashlib.sha256(clf.coef_.tobytes() + repr(clf.intercept_).encode()).hexdigest()
    return f"{name}-{digest[:12]}"


def save_model(model: TrawlerModel, directory: str | Path) -> Path:
    """Write ``model.skops`` (pipeline, threshold, version) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MODEL_FILE
    payload = {"pipeline": model.pipeline, "threshold": model.threshold, "version": model.version}
    skops.io.dump(payload, path, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    return path


def load_model(path: str | Path | None = None) -> TrawlerModel:
    """Load a model directory (or its ``model.skops``); None means the configured default.

    Only types skops trusts by default and those in ``TRUSTED_TYPES`` may be in the file:
    anything else is refused before a single object is built.
    """
    if path is None:
        from crawler.config import load_config

        path = load_config().model_path
    path = Path(path)
    file = path / MODEL_FILE if path.is_dir() else path
    if not file.is_file():
        raise ModelError(f"no model at {file}; train one with `trawler train` or give --model")
    try:
        untrusted = skops.io.get_untrusted_types(file=file)
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ModelError(f"{file} is not a trawler model file ({exc})") from exc
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise ModelError(f"{file} holds untrusted type(s) {', '.join(refused)}; refusing to load")
    payload = skops.io.load(file, trusted=list(untrusted))
    if not isinstance(payload, dict) or not isinstance(payload.get("pipeline"), Pipeline):
        raise ModelError(f"{file} is not a trawler model file")
    card_file = file.parent / "card.json"
    card = json.loads(card_file.read_text(encoding="utf-8")) if card_file.is_file() else {}
    return TrawlerModel(payload["pipeline"], payload["threshold"], payload["version"], card)
