"""Measured demonstrations, not tasks: vanishing/exploding gradients (``gradients``) and the
long-memory benchmarks (``memory``: adding problem, copy memory), with their plots.

``rnnkit diagnose gradients`` and ``rnnkit bench memory`` run them."""
