"""trawler's page classifier: features, calibrated model, reasons, site verdicts, training."""

from classifiers.artifact import load_model
from classifiers.model import Document, PageVerdict, TrawlerModel

__all__ = ["Document", "PageVerdict", "TrawlerModel", "load_model"]
