"""ConvLSTM2D speed: rnnkit's fast kernel vs its reference loop and Keras 3 (torch backend).

The measuring code is rnnkit.benchmarks.conv_lstm; `--help` lists the options.
"""

from rnnkit.benchmarks.conv_lstm import main

if __name__ == "__main__":
    main()
