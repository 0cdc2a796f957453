"""airbench94's optimizer in Keras: Nesterov SGD as PyTorch computes it, with weight decay
in the gradient, its bias/no-decay split, a whitening bias that freezes, and Lookahead.

airbench's numbers are per 1,024 images of a summed loss; Keras averages the loss
over the batch, so at its batch of 1,024 they become (tests/test_airbench.py):

    learning rate   11.5 / (1 + 1 / (1 - 0.85)) = 1.5   (PyTorch: 11.5 / 7850.7 per image)
    weight decay    0.0153 / 11.5 = 0.00133 x w added to the gradient, every variable
    BN offsets      64 x the learning rate and 1/64 of the decay (the same decay step)
    momentum        0.85, Nesterov; the rate is a triangle: 0.2 of its peak at step 0,
                    the peak at 23% of the steps, 0.07 of it at the last step

PyTorch's SGD keeps the momentum buffer without the learning rate (b = m b + g;
step = lr (g + m b)), Keras's with it; under a changing rate the two differ, so
`update_step` is PyTorch's. Lookahead (Zhang et al. 2019) keeps slow weights; every
`lookahead_every` steps they move towards the fast ones by 1 - d, d = 0.95^5 (t / T)^3
(airbench's schedule: no pull early, strong at the end), and the fast weights are set
back to them; after the last step the model holds the slow weights. The slow weights are
optimizer variables, so every checkpoint holds them and a resumed run continues exactly.
airbench also averages batch norm's moving statistics; Keras's optimizer sees trained
variables only, so here they follow the fast weights (momentum 0.6: the last few batches).
"""

import keras
from keras import ops

LOOKAHEAD_DECAY = 0.95 ** 5


@keras.saving.register_keras_serializable(package="week2_cnn")
class AirbenchSGD(keras.optimizers.Optimizer):
    """Nesterov SGD (PyTorch's form) with coupled decay, per-group rates and Lookahead.

    decay: added to the gradient as decay * w (PyTorch's weight_decay), every variable.
    offset_lr_scale: BN offsets (variables named "beta") train at this times the rate
        with decay / this, so their decay per step is everyone's (airbench's 64).
    frozen_after: {layer name: step}: that layer's variables stop changing from that step
        on (airbench's whitening bias trains 3 epochs).
    lookahead_every: 0 for none; else the slow weights sync every this many steps, and
        total_steps ends the schedule d = 0.95^5 (t / total_steps)^3.
    """

    def __init__(self, learning_rate=0.01, momentum=0.85, decay=0.0, offset_lr_scale=1.0,
                 frozen_after=None, lookahead_every=0, total_steps=1, name="airbench_sgd",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = float(momentum)
        self.decay = float(decay)
        self.offset_lr_scale = float(offset_lr_scale)
        self.frozen_after = dict(frozen_after or {})
        self.lookahead_every = int(lookahead_every)
        self.total_steps = int(total_steps)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.buffers = [self.add_variable_from_reference(v, "momentum") for v in variables]
        # Per variable, fixed when the graph is traced: its rate multiplier, its decay
        # and the step it freezes at (None: never).
        self._rate_scale, self._decay, self._frozen_from = [], [], []
        for variable in variables:
            is_offset = variable.name == "beta"
            self._rate_scale.append(self.offset_lr_scale if is_offset else 1.0)
            self._decay.append(self.decay / self.offset_lr_scale if is_offset
                               else self.decay)
            layer = variable.path.split("/")[0]
            self._frozen_from.append(self.frozen_after.get(layer))
        self.slow = []
        if self.lookahead_every:
            for variable in variables:
                slow = self.add_variable_from_reference(variable, "slow")
                slow.assign(variable)  # a restored checkpoint overwrites this
                self.slow.append(slow)

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        rate = ops.cast(learning_rate, dtype) * self._rate_scale[index]
        step = self.iterations + 1  # the step this update completes, 1-based
        if self._frozen_from[index] is not None:
            rate = rate * ops.cast(step <= self._frozen_from[index], dtype)
        gradient = ops.cast(gradient, dtype) + self._decay[index] * variable
        buffer = self.buffers[index]
        self.assign(buffer, self.momentum * buffer + gradient)
        self.assign_sub(variable, rate * (gradient + self.momentum * buffer))
        if self.lookahead_every:
            self._lookahead(index, variable, step)

    def _lookahead(self, index, variable, step):
        """Every k steps slow += (1 - d) (fast - slow) and fast = slow; after the last, fast = slow."""
        slow = self.slow[index]
        progress = ops.cast(step, "float32") / self.total_steps
        decay = ops.cast(LOOKAHEAD_DECAY * progress ** 3, variable.dtype)
        sync = ops.equal(step % self.lookahead_every, 0)
        pulled = ops.where(sync, slow + (1 - decay) * (variable - slow), slow)
        self.assign(slow, pulled)
        self.assign(variable, ops.where(sync | (step >= self.total_steps), pulled, variable))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "decay": self.decay,
                "offset_lr_scale": self.offset_lr_scale,
                "frozen_after": self.frozen_after, "lookahead_every": self.lookahead_every,
                "total_steps": self.total_steps}
