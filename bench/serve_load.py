"""Load test of ``rnnkit serve``: keyboard suggestions at a fixed concurrency, over loopback only.

The measuring code is rnnkit.benchmarks.serve_load; `--help` lists the options.
"""

from rnnkit.benchmarks.serve_load import main

if __name__ == "__main__":
    raise SystemExit(main())
