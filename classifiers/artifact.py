"""Saving and loading a model directory without pickle: ``model.json`` names each step of the
Pipeline with its hyper-parameters and learned values, ``model.npz`` holds the learned arrays.

Loading rebuilds the same Pipeline (``build_pipeline``) from these plain values, so training and
serving run the same code, and a model file can hold nothing but numbers, strings and lists.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from classifiers.model import TrawlerModel, build_pipeline

MODEL_FILE = "model.json"
ARRAYS_FILE = "model.npz"
FORMAT = "trawler-pipeline/1"


class ModelError(Exception):
    """A model directory is missing, incomplete or holds something it must not."""


def _steps(pipeline: Pipeline) -> dict[str, BaseEstimator]:
    features = pipeline.named_steps["features"]
    return {**dict(features.transformer_list), "clf": pipeline.named_steps["clf"]}


def _learned(estimator: BaseEstimator) -> dict[str, Any]:
    return {k: v for k, v in vars(estimator).items() if k.endswith("_") and not k.startswith("_")}


def save_model(model: TrawlerModel, directory: str | Path) -> Path:
    """Write ``model.json`` and ``model.npz`` into ``directory``; returns the JSON file."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    steps: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, estimator in _steps(model.pipeline).items():
        learned = {}
        for key, value in _learned(estimator).items():
            if isinstance(value, np.ndarray):
                arrays[f"{name}.{key}"] = value
            else:
                learned[key] = value
        steps[name] = {"type": type(estimator).__name__,
                       "params": estimator.get_params(deep=False), "learned": learned}
    path = directory / MODEL_FILE
    np.savez_compressed(directory / ARRAYS_FILE, **arrays)
    payload = {"format": FORMAT, "version": model.version, "threshold": model.threshold,
               "steps": steps}
    path.write_text(json.dumps(payload, ensure_ascii=False, default=list), encoding="utf-8")
    return path


def load_model(path: str | Path | None = None) -> TrawlerModel:
    """Load a model directory (or its ``model.json``); None means the configured default.

    Nothing is unpickled: the Pipeline is built from trawler's own classes and given the stored
    parameters and arrays; a file naming other types or steps is refused.
    """
    if path is None:
        from crawler.config import load_config

        path = load_config().model_path
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    file, arrays_file = directory / MODEL_FILE, directory / ARRAYS_FILE
    if not file.is_file() or not arrays_file.is_file():
        raise ModelError(f"no model at {directory} (needs {MODEL_FILE} and {ARRAYS_FILE}); "
                         "train one with `trawler train` or give --model")
    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
        with np.load(arrays_file, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{directory} is not a trawler model ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"{file} is not a {FORMAT} model file; retrain with `trawler train`")
    pipeline = build_pipeline()
    steps = _steps(pipeline)
    stored = payload.get("steps") or {}
    if set(stored) != set(steps):
        raise ModelError(f"{file} has steps {sorted(stored)}, expected {sorted(steps)}")
    try:
        for name, estimator in steps.items():
            spec = stored[name]
            if spec.get("type") != type(estimator).__name__:
                raise ModelError(f"{file}: step {name} is a {spec.get('type')!r}, expected "
                                 f"{type(estimator).__name__}; refusing to load")
            estimator.set_params(**{k: tuple(v) if isinstance(v, list) else v
                                    for k, v in spec["params"].items()})
            for key, value in spec["learned"].items():
                setattr(estimator, _attribute(key), value)
        for key, value in arrays.items():
            name, _, attribute = key.partition(".")
            setattr(steps[name], _attribute(attribute), value)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelError(f"{file} is not a trawler model file ({exc})") from exc
    card_file = directory / "card.json"
    card = json.loads(card_file.read_text(encoding="utf-8")) if card_file.is_file() else {}
    return TrawlerModel(pipeline, payload["threshold"], payload["version"], card)


def _attribute(key: str) -> str:
    """A learned attribute's name, checked: public and ending in ``_`` (as scikit-learn names
    them), so a file cannot overwrite methods or private state."""
    if not key.endswith("_") or key.startswith("_") or not key.isidentifier():
        raise ValueError(f"not a learned attribute: {key!r}")
    return key
