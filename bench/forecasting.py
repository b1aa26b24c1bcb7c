"""Forecasting beside the cheap baselines: Seattle weather, NYC hourly weather, AAPL.

The measuring code is rnnkit.benchmarks.forecasting; `--help` lists the options.
"""

from rnnkit.benchmarks.forecasting import main

if __name__ == "__main__":
    main()
