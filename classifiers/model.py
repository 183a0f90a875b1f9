"""The page classifier: one scikit-learn Pipeline and its calibrated verdicts with reasons.
Saving and loading live in ``classifiers.artifact``."""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import FeatureUnion, Pipeline

from classifiers.features import LexiconFeatures, Ngrams

LABELS = ("benign", "drugs")
# Pages scoring below this get no reasons (nobody reviews them; ``explain`` gives them on demand).
REASONS_FROM = 0.2
# How a reason names the several terms behind one lexicon feature ("клад, магнит, прикоп"); the
# review app splits them so (``crawler.review.highlight``).
TERMS_JOINED_BY = ", "
# Refits at most, when weights are bounded in sign (``CalibratedLinear._fit_bounded``), and how
# much of the largest gradient a held weight's must be to let it go.
_BOUNDED_ROUNDS = 20
_GRADIENT_TOLERANCE = 1e-6


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
    is exact; calibration folds never split a ``groups`` value between train and test. ``signs``
    (per column: +1, -1 or 0) bounds weights to be non-negative, non-positive or free.
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

    def _fit_bounded(self, X: Any, y: np.ndarray, weight: np.ndarray,
                     signs: np.ndarray | None, held: np.ndarray | None = None,
                     ) -> tuple[LogisticRegression, np.ndarray | None]:
        """Logistic regression whose weights keep their ``signs``, by active sets: a weight
        that takes the wrong sign is held at zero and the rest refitted; a held weight is let go
        again where the loss would fall if it moved the allowed way. Where it stops, every
        weight keeps its sign and no held one could do better: the bounded optimum (as exact as
        the solver). Returns the model and the weights held. A few signed columns among many
        free ones settle in two to four fits, or in one or two when started from the weights
        another fit on much the same data held (``held``)."""
        if signs is None or not signs.any():
            return self._base().fit(X, y, sample_weight=weight), None
        held = np.zeros(len(signs), dtype=bool) if held is None else held.copy()
        for _ in range(_BOUNDED_ROUNDS):
            free_columns = X @ sp.diags((~held).astype(float))
            model = self._base().fit(free_columns, y, sample_weight=weight)
            wrong = ~held & (signs * model.coef_[0] < 0)
            # The loss's gradient for each weight (liblinear's: C times the weighted sum).
            p = model.predict_proba(free_columns)[:, 1]
            gradient = self.C * np.asarray(X.T @ (weight * (p - y))).ravel()
            freed = held & (signs * gradient < -_GRADIENT_TOLERANCE * np.abs(gradient).max())
            if not wrong.any() and not freed.any():
                break
            held = (held | wrong) & ~freed
        model.coef_[0, held | (signs * model.coef_[0] < 0)] = 0.0
        return model, held

    def fit(self, X: Any, y: Sequence[int], sample_weight: Any = None,
            groups: Any = None, signs: Any = None) -> CalibratedLinear:
        y = np.asarray(y, dtype=int)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        signs = None if signs is None else np.asarray(signs, dtype=float)
        per_class = min(len(set(groups[y == c])) for c in (0, 1))
        n_splits = min(self.n_splits, per_class)
        self.calib_a_, self.calib_b_ = 1.0, 0.0
        held = None  # each fit starts from the weights the one before held
        if n_splits >= 2:
            oof = np.zeros(len(y))
            folds = StratifiedGroupKFold(n_splits, shuffle=True, random_state=self.random_state)
            for train, test in folds.split(X, y, groups):
                model, held = self._fit_bounded(X[train], y[train], weight[train], signs, held)
                oof[test] = model.decision_function(X[test])
            platt = LogisticRegression(C=1e4).fit(oof.reshape(-1, 1), y, sample_weight=weight)
            self.calib_a_, self.calib_b_ = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        model, _ = self._fit_bounded(X, y, weight, signs, held)
        self.coef_ = model.coef_[0].astype(np.float32)
        self.intercept_ = float(model.intercept_[0])
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        return np.asarray(X @ self._coef64(), dtype=float).ravel() + self.intercept_

    def _coef64(self) -> np.ndarray:
        """``coef_`` as float64, kept: a sparse product with float64 features would otherwise
        convert the whole float32 vector (a million weights) on every call."""
        coef, coef64 = self.__dict__.get("_coef64_of", (None, None))
        if coef is not self.coef_:
            coef, coef64 = self.coef_, np.asarray(self.coef_, dtype=np.float64)
            self.__dict__["_coef64_of"] = (coef, coef64)
        return coef64

    def predict_proba(self, X: Any) -> np.ndarray:
        p = self.calibrated(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def calibrated(self, decision: np.ndarray) -> np.ndarray:
        """The probability of "drugs" for decision values (``decision_function``'s)."""
        z = self.calib_a_ * decision + self.calib_b_
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def build_pipeline(exclude_families: Sequence[str] = (), C: float = 4.0) -> Pipeline:
    """The classifier: hashed word and character n-grams plus lexicon features, then a
    calibrated linear model. Each branch reads only the head and tail of a long page, which keeps
    serving above 1,000 pages/s on one core."""
    features = FeatureUnion([
        ("words", Ngrams(kind="word", ngram_range=(1, 2), head_chars=6_000, tail_chars=1_000,
                         max_words=800, n_features=2**19)),
        ("chars", Ngrams(kind="char", ngram_range=(3, 5), head_chars=1_500, tail_chars=300,
                         n_features=2**19, sublinear=False)),
        ("lexicon", LexiconFeatures(head_chars=6_000, tail_chars=1_000,
                                    exclude_families=tuple(exclude_families))),
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
        return self.clf.calibrated(self._decision(self._branches(list(texts))))

    def _branches(self, texts: list[str]) -> list[sp.csr_matrix]:
        """Each feature branch's matrix, as ``FeatureUnion`` would stack them side by side, but
        without its per-call machinery (joblib dispatch, output wrapping) nor the stacking: a
        batch of long pages holds a few hundred thousand entries, and copying them all costs
        more than the few rows that need reasons."""
        return [transformer.transform(texts) for _, transformer in self.features.transformer_list]

    def _decision(self, branches: list[sp.csr_matrix]) -> np.ndarray:
        """The classifier's decision values, summed over the branches' columns of its weights."""
        coef, total = self.clf._coef64(), np.full(branches[0].shape[0], self.clf.intercept_)
        for (_, start, _, width), part in zip(self._blocks(), branches, strict=True):
            total += np.asarray(part @ coef[start:start + width]).ravel()
        return total

    def _transform(self, texts: list[str]) -> sp.csr_matrix:
        """All features of these texts, as the pipeline's feature union gives them."""
        return sp.hstack(self._branches(texts), format="csr")

    def classify(self, docs: Sequence[Document], reasons: int = 10) -> list[PageVerdict]:
        """Verdicts for a batch of pages; each page scoring at least ``REASONS_FROM`` gets its
        ``reasons`` strongest reasons (the rest get none: ask ``explain`` for those)."""
        texts = [d.as_text() for d in docs]
        if not texts:
            return []
        branches = self._branches(texts)
        scores = self.clf.calibrated(self._decision(branches))
        starts = [start for _, start, _, _ in self._blocks()]
        verdicts = []
        for i, text in enumerate(texts):
            score = float(scores[i])
            found: list[dict[str, Any]] = []
            if reasons and score >= REASONS_FROM:  # the page's row of the stacked matrix
                rows = [slice(part.indptr[i], part.indptr[i + 1]) for part in branches]
                indices = np.concatenate([part.indices[row].astype(np.int64) + start for
                                          part, row, start in zip(branches, rows, starts,
                                                                  strict=True)])
                data = np.concatenate([part.data[row] for part, row in zip(branches, rows,
                                                                           strict=True)])
                found = self._reasons(text, indices, data, reasons)
            verdicts.append(PageVerdict(
                label=LABELS[int(score >= self.threshold)], score=round(score, 6),
                threshold=self.threshold, model_version=self.version, reasons=found))
        return verdicts

    def explain(self, text: str, k: int = 10) -> list[dict[str, Any]]:
        """The ``k`` features that moved this text's score most, with the text's own terms."""
        row = self._transform([text])
        return self._reasons(text, row.indices, row.data, k)

    def _reasons(self, text: str, indices: np.ndarray, data: np.ndarray,
                 k: int) -> list[dict[str, Any]]:
        """Strongest contributions first. Character n-grams (fragments like " ме") mean little
        to a reviewer one by one, so they count as one reason, ``char_ngrams``, with their sum.

        Each reason is one column (or the character n-grams), and no two columns give the same
        reason: a lexicon column is its feature, and a word column its n-gram, as two n-grams
        spelt alike hash alike. So the ``k`` strongest columns are the reasons, and only their
        n-grams are spelt.
        """
        contrib = data * self.clf.coef_[indices]
        blocks = self._blocks()
        chars = [n for n, (name, *_) in enumerate(blocks) if name == "chars"]
        # A row holds each branch's columns in turn (the union stacks them side by side), so the
        # character n-grams are one run of it, found by bisection though they are not sorted.
        start = stop = 0
        if chars:
            _, first, _, width = blocks[chars[0]]
            start, stop = int(indices.searchsorted(first)), int(indices.searchsorted(first + width))
        rest = np.concatenate([contrib[:start], contrib[stop:]])  # the other branches, in order
        top = np.argsort(-np.abs(rest), kind="stable")[:k]
        top += (top >= start) * (stop - start)  # back to positions in the row
        starts = [b[1] for b in blocks]
        candidates = [(float(contrib[j]), index, bisect_right(starts, index) - 1)
                      for j, index in zip(top.tolist(), indices[top].tolist(), strict=True)]
        if stop > start:
            candidates.append((float(contrib[start:stop].sum()), -1, int(chars[0])))
        picked = sorted((c for c in candidates if abs(c[0]) >= 1e-6),
                        key=lambda c: -abs(c[0]))[:k]
        grams = {name: transformer.terms(text, [i - start for _, i, b in picked
                                                if blocks[b][0] == name])
                 for name, start, transformer, _ in blocks if name == "words"}
        reasons: list[dict[str, Any]] = []
        lexicon_terms: dict[str, list[str]] | None = None
        for weight, index, b in picked:
            name, start, transformer, _ = blocks[b]
            if name == "lexicon":
                feature = transformer.feature_names_[index - start]
                if lexicon_terms is None:
                    lexicon_terms = transformer.explain(text)
                term = TERMS_JOINED_BY.join(lexicon_terms.get(feature) or []) or None
            elif name == "chars":
                feature, term = "char_ngrams", None
            else:
                feature, term = "word_ngram", grams[name].get(index - start)
            reasons.append({"feature": feature, "term": term, "weight": round(weight, 4)})
        return reasons

    def _blocks(self) -> list[tuple[str, int, Any, int]]:
        """(branch name, first column, transformer, width) of each feature branch."""
        return feature_blocks(self.features)


def feature_blocks(features: FeatureUnion) -> list[tuple[str, int, Any, int]]:
    """(branch name, first column, transformer, width) of each branch of a fitted union."""
    blocks, start = [], 0
    for name, transformer in features.transformer_list:
        width = (len(transformer.feature_names_) if name == "lexicon"
                 else transformer.n_features)
        blocks.append((name, start, transformer, width))
        start += width
    return blocks


def column_signs(features: FeatureUnion) -> np.ndarray:
    """The sign each column's weight must have (``LexiconFeatures.feature_signs``; n-grams are
    free), for ``CalibratedLinear.fit``."""
    return np.concatenate([
        transformer.feature_signs() if hasattr(transformer, "feature_signs") else np.zeros(width)
        for _, _, transformer, width in feature_blocks(features)])


def model_version(pipeline: Pipeline, name: str = "trawler") -> str:
    clf = pipeline.named_steps["clf"]
    digest = hashlib.sha256(clf.coef_.tobytes() + repr(clf.intercept_).encode()).hexdigest()
    return f"{name}-{digest[:12]}"
