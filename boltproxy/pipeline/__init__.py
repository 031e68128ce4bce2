"""The migration pipeline (``boltproxy pipeline``) and the benchmark (``boltproxy bench``)."""
