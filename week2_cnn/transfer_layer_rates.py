"""Per-layer learning rates for fine-tuning: lower for earlier layers (--layer_lr_decay D).

The lecture's third way to transfer: train every layer, but the earlier ones
slower, because they hold the general features (edges, colours) worth keeping.
The layers are grouped into depths counted from the top: the new head is
depth 0, the base's top block depth 1, the block below it depth 2, and so on;
a variable at depth k learns at learning_rate * D**k.

How a base is cut into depths (`depth_groups`), one rule for every network:
  - a layer every path from input to output goes through (the trunk) that
    has a kernel (Conv*, Dense) is a depth of its own; the trunk layers with
    weights but no kernel (batch norm) join the depth below them, the layer
    they normalise;
  - a multi-branch block, everything between a fork and the merge that ends
    it (an Inception module from its input to its concatenation, a residual
    block from its input to its Add), is one depth, all branches together.
For Inception v3 that gives 16 depths: mixed10 is depth 1, mixed9 depth 2, ...,
mixed0 depth 11 (each of the eleven mixed blocks, its inner mixed9_0/1
concatenations included), then the five stem convolutions below mixed0,
depths 12-16 (conv2d_4 ... conv2d, each with its batch norm). For a
week2_cnn.cifar10 classifier used as --base: `fast` is a chain, so each of its
convolutions is a depth (the top one 1, the first trainable one 6, the fixed
whitening conv 7); `resnet` has one depth per residual block (its first conv
one more), `googlenet` one per Inception module, `densenet` one per dense
layer (its branch up to the concatenation), `vgg` and `tutorial` one per conv
or dense layer. Layers that fine-tuning leaves frozen
keep their depth, so the top trained block is always depth 1.

Keras 3 has no per-variable learning rate, and scaling the gradients instead
would do nothing for Adam (its update is invariant to the gradient's scale),
so the optimizers here scale the learning rate handed to each variable's
`update_step`: LayerRateAdam and LayerRateSGD are Keras's Adam and SGD with a
multiplier per trainable variable (in the order of model.trainable_variables,
the order the optimizer's own slots are kept in). They take a learning-rate
schedule like their parents, and save the multipliers in their config, so a
checkpoint resumes with them.
"""

import keras

# The weights that make a layer a depth of its own (Conv*, Dense, Embedding, RNN cells).
KERNEL_NAMES = ("kernel", "depthwise_kernel", "pointwise_kernel", "embeddings")


class _LayerRates:
    """update_step at learning_rate * lr_multipliers[the variable's index]."""

    def __init__(self, *args, lr_multipliers=(), **kwargs):
        super().__init__(*args, **kwargs)
        if self.weight_decay:  # decoupled decay uses the unscaled rate (apply_weight_decay)
            raise ValueError("per-layer learning rates do not scale weight_decay; use an "
                             "L2 kernel regularizer instead")
        self.lr_multipliers = tuple(float(m) for m in lr_multipliers)

    def build(self, variables):
        if len(variables) != len(self.lr_multipliers):
            raise ValueError(f"{len(self.lr_multipliers)} learning-rate multipliers for "
                             f"{len(variables)} trainable variables")
        super().build(variables)

    def update_step(self, gradient, variable, learning_rate):
        multiplier = self.lr_multipliers[self._get_variable_index(variable)]
        if multiplier != 1.0:  # a multiplier of 1 leaves the parent's arithmetic untouched
            learning_rate = learning_rate * multiplier
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "lr_multipliers": list(self.lr_multipliers)}


@keras.saving.register_keras_serializable(package="week2_cnn")
class LayerRateAdam(_LayerRates, keras.optimizers.Adam):
    """Adam with a learning-rate multiplier per trainable variable."""


@keras.saving.register_keras_serializable(package="week2_cnn")
class LayerRateSGD(_LayerRates, keras.optimizers.SGD):
    """SGD (momentum, Nesterov) with a learning-rate multiplier per trainable variable."""


LAYER_RATE_CLASSES = {keras.optimizers.Adam: LayerRateAdam, keras.optimizers.SGD: LayerRateSGD}


def with_layer_rates(optimizer, lr_multipliers):
    """A new, unbuilt copy of an Adam or SGD optimizer (same settings, same schedule)
    that scales each variable's learning rate by its multiplier."""
    layer_rate_class = LAYER_RATE_CLASSES.get(type(optimizer))
    if layer_rate_class is None:
        raise ValueError(f"per-layer learning rates support Adam and SGD, not "
                         f"{type(optimizer).__name__}")
    return layer_rate_class.from_config({**optimizer.get_config(),
                                         "lr_multipliers": list(lr_multipliers)})


def depth_groups(model):
    """The layers with weights of `model` in depth groups, from the input up (see above)."""
    groups, block = [], None
    for layer, on_trunk in _layers_on_trunk(model):
        if on_trunk:
            block = None  # the merge that ends a multi-branch block
            if isinstance(layer, keras.Model):
                groups += depth_groups(layer)
            elif layer.weights and (_has_kernel(layer) or not groups):
                groups.append([layer])
            elif layer.weights:
                groups[-1].append(layer)
            continue
        inner = [sub for sub in _flat_layers(layer) if sub.weights]
        if inner and block is None:
            block = []
            groups.append(block)
        if inner:
            block += inner
    return groups


def layer_rate_multipliers(model, base, decay):
    """decay**depth for each of model.trainable_variables, in order.

    `base` is the part of `model` cut into depths (its layers are model's);
    every other trainable variable (the new head) has depth 0.
    """
    groups = depth_groups(base)
    depth = {}
    for index, group in enumerate(groups):
        for layer in group:
            for variable in layer.weights:
                depth[id(variable)] = len(groups) - index
    return [decay ** depth.get(id(v), 0) for v in model.trainable_variables]


def _has_kernel(layer):
    return any(w.name in KERNEL_NAMES for w in layer.weights)


def _flat_layers(layer):
    if isinstance(layer, keras.Model):
        for sub in layer.layers:
            yield from _flat_layers(sub)
    else:
        yield layer


def _layers_on_trunk(model):
    """[(layer, whether every input-to-output path passes through it)] in graph order.

    model.layers is a topological order; a layer is on every path exactly when
    no edge of the graph jumps over its position.
    """
    layers = model.layers
    if isinstance(model, keras.Sequential):
        return [(layer, True) for layer in layers]
    position = {id(layer): i for i, layer in enumerate(layers)}
    jumps = [0] * (len(layers) + 1)  # edges (j -> i) cover positions j+1 .. i-1
    for i, layer in enumerate(layers):
        for node in layer._inbound_nodes:
            for parent in node.parent_nodes:
                j = position.get(id(parent.operation))
                if j is not None and j < i - 1:
                    jumps[j + 1] += 1
                    jumps[i] -= 1
    covered, flags = 0, []
    for i, layer in enumerate(layers):
        covered += jumps[i]
        flags.append((layer, covered == 0))
    return flags
