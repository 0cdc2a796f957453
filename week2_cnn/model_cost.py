"""Parameters and multiply-accumulates per image of a built Keras model, from its shapes.

    cost = model_cost(model)       # {"params": ..., "macs": ..., "mflops": ...}

A multiply-accumulate (MAC) is one multiplication and one addition, the unit
the lectures count in ("854M ops" for the naive Inception module are its
multiplications). MFLOPs are reported as 2 * MACs / 1e6, the convention of
most papers' FLOP tables (counting the addition too); biases, batch norm,
activations and pooling are left out, as they are in those tables (they are
a few percent at most). Counted analytically per layer, for one image:

    Conv2D            H_out * W_out * C_out * (k_h * k_w * C_in / groups)
    DepthwiseConv2D   H_out * W_out * C_in * multiplier * k_h * k_w
    SeparableConv2D   its depthwise part + a 1x1 Conv2D from C_in * multiplier to C_out
    Dense             (positions it is applied at) * units * inputs
"""

import math

import keras


def layer_macs(layer):
    """Multiply-accumulates of one layer for one image (0 for layers without weights)."""
    if isinstance(layer, keras.Model):
        return sum(layer_macs(inner) for inner in layer.layers)
    if isinstance(layer, keras.layers.Dense):
        positions = math.prod(layer.output.shape[1:-1])  # 1 for a (batch, units) output
        return positions * layer.units * layer.input.shape[-1]
    if isinstance(layer, keras.layers.DepthwiseConv2D):  # before Conv2D: it subclasses conv
        return _positions(layer) * layer.input.shape[-1] * layer.depth_multiplier * _window(layer)
    if isinstance(layer, keras.layers.SeparableConv2D):
        depthwise_channels = layer.input.shape[-1] * layer.depth_multiplier
        return _positions(layer) * depthwise_channels * (_window(layer) + layer.filters)
    if isinstance(layer, keras.layers.Conv2D):
        per_output = _window(layer) * layer.input.shape[-1] // layer.groups
        return _positions(layer) * layer.filters * per_output
    return 0


def _positions(layer):
    """H_out * W_out of a channels-last 2-D conv's output."""
    if layer.data_format != "channels_last":
        raise ValueError(f"{layer.name}: only channels_last convolutions are counted")
    height, width = layer.output.shape[1:3]
    return height * width


def _window(layer):
    return math.prod(layer.kernel_size)


def model_cost(model):
    """{"params", "macs", "mflops"} of `model` per image; mflops = 2 * macs / 1e6."""
    macs = sum(layer_macs(layer) for layer in model.layers)
    return {"params": model.count_params(), "macs": macs, "mflops": 2 * macs / 1e6}
