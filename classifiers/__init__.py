"""trawler's page classifier: features, calibrated model, reasons, site verdicts, training."""

from classifiers.model import Document, PageVerdict, TrawlerModel, load_model

__all__ = ["Document", "PageVerdict", "TrawlerModel", "load_model"]
