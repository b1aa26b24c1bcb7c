"""rnnkit's HTTP API and demo page (``pip install rnnkit[serve]``): see :mod:`rnnkit.server.app`."""
