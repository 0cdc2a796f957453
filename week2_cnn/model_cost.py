"""Parameters and multiply-accumulates per image of a built Keras model, from its shapes;
and the training memory of a CIFAR-10 config before its model is built.

    cost = model_cost(model)       # {"params": ..., "macs": ..., "mflops": ...}
    size = estimated_size(config)  # a common.model_size.ModelSize, pure arithmetic

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

from common.model_size import Counter
from week2_cnn.cifar_zoo_models import INCEPTION_TABLE


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


def estimated_size(config, num_classes=10):
    """The ModelSize of cifar_models.build_model(config) for one training batch, unbuilt.

    Each body below follows its builder layer by layer (cifar_models,
    cifar_zoo_models); a feature map is (side, channels), side x side pixels.
    """
    net = _Net(config)
    net.count.output(2 * 32 * 32 * 3)                   # the images, normalized
    channels = BODY_COUNTS[config.arch](net, config)
    net.dropout(channels, 1)
    net.count.dense(channels, num_classes, bias=config.arch != "airbench")  # logits
    return net.count.size(config.batch_size)


class _Net:
    """cifar_layers' helpers, counted: each takes and returns (side, channels)."""

    def __init__(self, config):
        self.count, self.config = Counter(), config

    def conv(self, side, channels, filters, kernel_size=3, strides=1, bias=None):
        """A "same" conv: a bias only without batch norm, as cifar_layers.conv."""
        side = -(-side // strides)
        bias = not self.config.batch_norm if bias is None else bias
        return side, self.count.conv(channels, filters, kernel_size, side * side, bias)

    def bn_act(self, side, channels, scale=True):
        if self.config.batch_norm:
            self.count.weights((4 if scale else 3) * channels)  # (scale,) offset, mean, var
            self.count.output(side * side * channels)
        self.count.output(side * side * channels)       # the activation
        return side, channels

    def conv_bn(self, side, channels, filters, kernel_size=3, strides=1):
        side, channels = self.conv(side, channels, filters, kernel_size, strides)
        return self.bn_act(side, channels, scale=self.config.arch != "fast")

    def pool(self, side, channels, size=2, strides=None):
        """Max or average pooling ("same" when it strides by less than its size)."""
        side = -(-side // strides) if strides else side // size
        self.count.output(side * side * channels)
        return side, channels

    def dense(self, inputs, units):
        self.count.output(self.count.dense(inputs, units))  # and its activation
        return self.dropout(units, 1)

    def dropout(self, channels, pixels):
        if self.config.dropout_rate:
            self.count.output(pixels * channels)
        return channels


def _tutorial(net, config):
    side, channels = 32, 3
    for _ in range(2):
        side, channels = net.pool(*net.conv_bn(side, channels, config.width, 5), 3, 2)
    return net.dense(net.dense(side * side * channels, 384), 192)


def _vgg(net, config):
    side, channels = 32, 3
    for group in range(3):
        for _ in range(2):
            side, channels = net.conv_bn(side, channels, config.width * 2 ** group)
        side, channels = net.pool(side, channels)
        net.dropout(channels, side * side)
    return channels


def _resnet(net, config):
    """Version 1 (post-activation) or 2 (pre-activation), n = (depth - 2) / 6 blocks a stage."""
    v2 = config.resnet_version == 2
    side, channels = (net.conv if v2 else net.conv_bn)(32, 3, config.width)
    for stage in range(3):
        filters = config.width * 2 ** stage
        for block in range((config.depth - 2) // 6):
            strides = 2 if stage > 0 and block == 0 else 1
            if v2:
                net.bn_act(side, channels)
            if strides != 1:                            # the 1x1 strided projection
                net.conv(side, channels, filters, 1, strides, bias=False)
            block_side, _ = (net.conv if v2 else net.conv_bn)(side, channels, filters,
                                                              strides=strides)
            if v2:
                net.bn_act(block_side, filters)
            net.conv(block_side, filters, filters)
            if not v2:
                net.bn_act(block_side, filters)         # BN, then the activation after the add
            side, channels = block_side, filters
            net.count.output(side * side * channels)    # the sum
    if v2:
        net.bn_act(side, channels)
    return channels


def _fast(net, config):
    side, channels = 31, net.count.conv(3, 24, 2, 31 * 31)  # the whitening, "valid" padding
    net.count.output(side * side * channels)            # its activation
    for filters in (config.width, 4 * config.width, 4 * config.width):
        side, channels = net.conv(side, channels, filters, bias=False)
        side, channels = net.bn_act(*net.pool(side, channels), scale=False)
        side, channels = net.conv_bn(side, channels, filters)
    return channels


def _airbench(net, config):
    side, channels = 31, net.count.conv(3, 24, 2, 31 * 31, bias=False)  # the whitening
    net.count.weights(channels)                         # its bias (ChannelBias)
    net.count.output(2 * side * side * channels)        # the bias added, its activation
    for scale in (1, 4, 4):
        side, channels = net.conv(side, channels, scale * config.width)
        side, channels = net.bn_act(*net.pool(side, channels), scale=False)
        side, channels = net.bn_act(*net.conv(side, channels, channels), scale=False)
    return channels


def _alexnet(net, config):
    w, side, channels = config.width, 32, 3
    side, channels = net.pool(*net.conv_bn(side, channels, w, 5), 3, 2)
    side, channels = net.pool(*net.conv_bn(side, channels, 3 * w, 5), 3, 2)
    for filters in (6 * w, 4 * w, 4 * w):
        side, channels = net.conv_bn(side, channels, filters)
    side, channels = net.pool(side, channels, 3, 2)
    return net.dense(net.dense(side * side * channels, 16 * w), 16 * w)


def _googlenet(net, config):
    def scaled(channels):
        return max(1, round(channels * config.width / 64))

    side, channels = net.conv_bn(32, 3, scaled(192))
    for name, table in INCEPTION_TABLE:
        if name in ("4a", "5a"):
            side, channels = net.pool(side, channels, 3, 2)
        n1x1, reduce3, n3x3, reduce5, n5x5, pool_proj = map(scaled, table)
        net.pool(side, channels, 3, 1)
        if pool_proj:
            net.conv_bn(side, channels, pool_proj, 1)
        net.conv_bn(side, channels, n1x1, 1)
        for reduce, filters, size in ((reduce3, n3x3, 3), (reduce5, n5x5, 5)):
            inputs = net.conv_bn(side, channels, reduce, 1)[1] if reduce else channels
            net.conv_bn(side, inputs, filters, size)
        channels = n1x1 + n3x3 + n5x5 + (pool_proj or channels)
        net.count.output(side * side * channels)        # the concatenation
    return channels


def _densenet(net, config):
    k, side = config.growth_rate, 32
    side, channels = net.conv(32, 3, 2 * k)
    for block in range(1, 4):
        for _ in range((config.depth - 4) // 6):
            net.conv(side, net.bn_act(side, channels)[1], 4 * k, 1)
            net.conv(side, net.bn_act(side, 4 * k)[1], k)
            channels += k
            net.count.output(side * side * channels)    # the concatenation
        if block < 3:
            net.conv(side, net.bn_act(side, channels)[1], channels // 2, 1)
            side, channels = net.pool(side, channels // 2)
    return net.bn_act(side, channels)[1]


BODY_COUNTS = {"tutorial": _tutorial, "vgg": _vgg, "resnet": _resnet, "fast": _fast,
               "airbench": _airbench,
               "alexnet": _alexnet, "googlenet": _googlenet, "densenet": _densenet}
