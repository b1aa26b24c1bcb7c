"""Pure math: cell equations, the reference time loop, activations, initializers.

Nothing here is an ``nn.Module`` and nothing here picks a device; the layers and
kernels above build on these functions.
"""
