"""Item pipelines, one concern each: classify, store (evidence and entities plug in between)."""
