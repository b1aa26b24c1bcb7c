"""Measured benchmarks that ship with the package (``rnnkit bench ...``); the scripts in
``bench/`` call these and write their JSON to ``bench/results/``."""
