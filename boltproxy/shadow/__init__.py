"""Shadow traffic: fingerprints, comparison, the worker process, store, reports and replay."""
