"""onnxruntime on rnnkit's ONNX export vs rnnkit inference, side by side.

The measuring code is rnnkit.benchmarks.onnx_inference; `--help` lists the options.
"""

from rnnkit.benchmarks.onnx_inference import main

if __name__ == "__main__":
    main()
