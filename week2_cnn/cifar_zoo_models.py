"""The lecture's "revolution of depth" sized for 32x32 CIFAR-10 images, as the CIFAR versions are.

    alexnet    Krizhevsky et al. 2012, scaled down: 5 convs, 3 fully connected layers
    googlenet  Szegedy et al. 2014: nine Inception modules, the common CIFAR layout
    resnet     He et al. 2016: 6n+2 layers (--depth 20, 32, 56, 110), v1 (post-activation)
               or v2 (pre-activation, "Identity mappings in deep residual networks")
    densenet   Huang et al. 2017, DenseNet-BC: 6n+4 layers, growth rate k, each layer
               reading the concatenation of every earlier feature map of its block

Every body takes the normalised images [batch, 32, 32, 3] and returns the
features [batch, F] that week2_cnn.cifar_models puts the logits layer on. The
resnet v1 body (ResNet-20 by default) stays in cifar_models, unchanged, so that
runs made before --depth existed rebuild the same network.
"""

from keras import layers

from week2_cnn.cifar_layers import bn_act, conv, conv_bn, dense, l2_regularizer

RESNET_DEPTHS = "8, 14, 20, 32, 44, 56, 110, ..."
DENSENET_DEPTHS = "10, 22, 40, 100, 190, ..."


# The flags only some architectures read: passing one to another is a mistake.
ARCH_FLAGS = {"depth": ("resnet", "densenet"), "resnet_version": ("resnet",),
              "growth_rate": ("densenet",)}


def architecture_problem(config, given=()):
    """Why `config` names no network that can be built (one sentence), or None.

    given: the names of the config fields set by command-line flags; one that
    the architecture does not read (--depth with --arch vgg) is a problem too.
    """
    for name in given:
        if name in ARCH_FLAGS and config.arch not in ARCH_FLAGS[name]:
            return (f"--{name} is read only by --arch {' and '.join(ARCH_FLAGS[name])}, "
                    f"not {config.arch}; drop it or choose one of those")
    if config.arch == "resnet":
        if config.depth < 8 or (config.depth - 2) % 6:
            return (f"--depth {config.depth} cannot build a CIFAR ResNet: it has 6n+2 layers "
                    f"({RESNET_DEPTHS}); the published ones are 20, 32, 56 and 110")
    elif config.arch == "densenet":
        if config.depth < 10 or (config.depth - 4) % 6:
            return (f"--depth {config.depth} cannot build a DenseNet-BC: it has 6n+4 layers "
                    f"({DENSENET_DEPTHS}); the published ones are 100, 190 and 250")
    return None


def alexnet_body(x, config):
    """AlexNet scaled from 224x224 to 32x32 images (width w: 64 gives torchvision's channels).

    What was scaled: the first conv's 11x11 kernel at stride 4 (about 5% of a
    224-pixel image's width) becomes 5x5 at stride 1, as in Krizhevsky's own
    CIFAR-10 nets, so the 32x32 image is not reduced to 8x8 at once; the three
    3x3/2 max pools are kept (32 -> 16 -> 8 -> 4); the 4096-unit fully connected
    layers become 16w units (1024 at w = 64); local response normalisation is
    left out (batch norm, when --batch_norm is on, takes its place). The
    channels are torchvision's one-tower AlexNet's: w, 3w, 6w, 4w, 4w.
    """
    w = config.width
    x = conv_bn(x, w, config, kernel_size=5)                   # (batch, 32, 32, w)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)   # 16 x 16
    x = conv_bn(x, 3 * w, config, kernel_size=5)               # (batch, 16, 16, 3w)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)   # 8 x 8
    for filters in (6 * w, 4 * w, 4 * w):                      # conv3, conv4, conv5
        x = conv_bn(x, filters, config)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)   # (batch, 4, 4, 4w)
    x = layers.Flatten()(x)                                     # (batch, 64w)
    # fc6 and fc7 with dropout after each (the classifier's dropout follows fc7);
    # the logits layer added by build_model is fc8.
    x = dense(x, 16 * w, config, name="fc6")
    if config.dropout_rate:
        x = layers.Dropout(config.dropout_rate)(x)
    return dense(x, 16 * w, config, name="fc7")


def inception_module(x, config, n1x1, reduce3, n3x3, reduce5, n5x5, pool_proj, name=None):
    """Four parallel branches concatenated along channels (all keep the height and width).

    1x1 conv n1x1 | 1x1 reduce3 -> 3x3 n3x3 | 1x1 reduce5 -> 5x5 n5x5 | 3x3 max pool
    -> 1x1 pool_proj. A reduce or pool_proj of 0 leaves that 1x1 "bottleneck" out:
    the naive module of the lecture, whose max pool passes every input channel on.
    Output channels: n1x1 + n3x3 + n5x5 + (pool_proj or the input's channels).
    """
    def branch(y, reduce, filters, size):
        if reduce:
            y = conv_bn(y, reduce, config, kernel_size=1)       # fewer channels, same H x W
        return conv_bn(y, filters, config, kernel_size=size)

    pooled = layers.MaxPooling2D(3, strides=1, padding="same")(x)
    if pool_proj:
        pooled = conv_bn(pooled, pool_proj, config, kernel_size=1)
    branches = [conv_bn(x, n1x1, config, kernel_size=1), branch(x, reduce3, n3x3, 3),
                branch(x, reduce5, n5x5, 5), pooled]
    return layers.Concatenate(name=name)(branches)


# Szegedy et al. 2014, table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
INCEPTION_TABLE = (
    ("3a", (64, 96, 128, 16, 32, 32)), ("3b", (128, 128, 192, 32, 96, 64)),
    ("4a", (192, 96, 208, 16, 48, 64)), ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)), ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    ("5a", (256, 160, 320, 32, 128, 128)), ("5b", (384, 192, 384, 48, 128, 128)))


def googlenet_body(x, config):
    """GoogLeNet for 32x32 images, the layout of the common CIFAR-10 GoogLeNet.

    What was scaled: the ImageNet stem (7x7/2 conv, max pool, 1x1 and 3x3 convs,
    max pool: 224 -> 28 pixels) becomes one 3x3 conv with 192 channels at 32x32;
    the nine modules keep the paper's channel counts times w/64 (w = 64: the
    published CIFAR size, about 6M parameters) and its two 3x3/2 max pools
    (32 -> 16 -> 8); the two auxiliary classifiers are left out (batch norm,
    when on, keeps the lower layers trainable); average pooling over the last
    8x8 map and dropout (--dropout_rate, 0.4 in the paper) before the logits.
    """
    scale = config.width / 64

    def scaled(channels):
        return max(1, round(channels * scale))

    x = conv_bn(x, scaled(192), config)                         # (batch, 32, 32, 192 s)
    for name, channels in INCEPTION_TABLE:
        if name in ("4a", "5a"):                                # 32 -> 16 -> 8
            x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = inception_module(x, config, *map(scaled, channels), name=f"inception_{name}")
    return layers.GlobalAveragePooling2D()(x)                   # (batch, 1024 s)


def resnet_v2_body(x, config):
    """Pre-activation ResNet (He et al. 2016b): BN -> ReLU -> conv inside each block.

    Nothing follows the addition, so the shortcut path from the first conv to
    the last block is a chain of identities: x_{l+1} = x_l + F(x_l). Widths w,
    2w, 4w over three stages of n = (depth - 2) / 6 blocks; the first block of
    stages 2 and 3 halves the map with stride 2 and projects its (pre-activated)
    input with a strided 1x1 conv. A last BN -> ReLU comes before the pooling.
    """
    blocks_per_stage = (config.depth - 2) // 6
    x = conv(x, config.width, config)                           # (batch, 32, 32, w)
    for stage in range(3):
        filters = config.width * 2 ** stage
        for block in range(blocks_per_stage):
            strides = 2 if stage > 0 and block == 0 else 1
            activated = bn_act(x, config)
            shortcut = x
            if strides != 1:  # (batch, H/2, W/2, filters), from the activated input
                shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False,
                                         kernel_regularizer=l2_regularizer(config))(activated)
            y = conv(activated, filters, config, strides=strides)
            y = conv(bn_act(y, config), filters, config)
            x = layers.Add()([y, shortcut])                     # no activation after
    return layers.GlobalAveragePooling2D()(bn_act(x, config))   # (batch, 4w)


def densenet_body(x, config):
    """DenseNet-BC: three dense blocks of n = (depth - 4) / 6 layers, growth rate k.

    Inside a block layer i computes x_i = H_i([x_0, x_1, ..., x_{i-1}]): its
    input is the concatenation of every earlier feature map of the block, and
    its k new channels are concatenated on (so a block's channels grow c, c + k,
    c + 2k, ...). H is the bottleneck BN -> ReLU -> 1x1 conv (4k) -> BN -> ReLU
    -> 3x3 conv (k). Between blocks a transition BN -> ReLU -> 1x1 conv keeps
    half the channels (compression 0.5) and a 2x2 average pool halves the map.
    The first conv has 2k channels; depth counts the first conv, the 2n convs of
    each block, the two transitions and the classifier: 6n + 4. --width is unused.
    """
    layers_per_block, k = (config.depth - 4) // 6, config.growth_rate
    x = conv(x, 2 * k, config, name="densenet_stem")             # (batch, 32, 32, 2k)
    for block in range(1, 4):
        for i in range(1, layers_per_block + 1):
            y = conv(bn_act(x, config), 4 * k, config, kernel_size=1)   # bottleneck 4k
            y = conv(bn_act(y, config), k, config)                      # k new maps
            # [x_0, ..., x_{i-1}] -> [x_0, ..., x_i]: channels + k.
            x = layers.Concatenate(name=f"dense{block}_concat{i}")([x, y])
        if block < 3:
            x = conv(bn_act(x, config), x.shape[-1] // 2, config, kernel_size=1)
            x = layers.AveragePooling2D(2)(x)                   # 32 -> 16 -> 8
    return layers.GlobalAveragePooling2D()(bn_act(x, config))


ZOO_BODIES = {"alexnet": alexnet_body, "googlenet": googlenet_body,
              "densenet": densenet_body}
