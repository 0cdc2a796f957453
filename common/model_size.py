"""Will a model fit in memory? An estimate from its config, made before it is built.

Each size flag has a maximum, but their product has none: `char_rnn train
--units 8192 --num_layers 16` asks for 8.3 billion weights, and building it
ended in a ResourceExhaustedError traceback or the kernel's OOM kill. Each
model module has a function (`estimated_size(config, ...)`, pure arithmetic
on the config and the data's sizes: vocabulary, image shape, classes) that
returns a ModelSize, and `train` checks it against this machine's memory
before anything is built or written:

    check_fits(estimated_size(config, len(vocab)), "--units, --num_layers or --batch_size")

Training memory, in float32 bytes:
    weights x their copies (the weight, its gradient, the optimizer's slots:
        Adam 4, SGD with momentum 3, plain SGD 2, SGD on sparse gradients 1)
    + frozen weights (read, not trained)
    + the activations of one batch that the backward pass reads
Against the peak memory `fit` reached on a CPU (CIFAR-10 VGG, ResNet,
GoogLeNet, DenseNet-BC; LSTM and GRU char-RNNs; MLPs) it was within a factor
of 2: above for the convolutional and dense networks, below for the LSTMs,
whose loop TensorFlow keeps more of. It leaves out TensorFlow's own memory
(about half a GiB) and the data. That is close enough for its purpose: the
products of the flags' maxima, billions of weights, are refused in a second
instead of an OOM kill minutes later. The machine's memory is what is
compared; a GPU's is not read (that would start the device).
"""

import dataclasses
import os

from common.cli import UsageError

BYTES_PER_FLOAT = 4
GIB = 2 ** 30
ADAM_COPIES = 4  # the weight, its gradient, Adam's first and second moments


@dataclasses.dataclass(frozen=True)
class ModelSize:
    parameters: int         # weights the model holds (count_params), trained ones and statistics
    activations: int = 0    # floats kept for the backward pass of one training batch
    frozen: int = 0         # weights read but not trained (a transfer base)
    copies: int = ADAM_COPIES  # floats training holds per trained weight (see above)

    def training_bytes(self):
        floats = self.parameters * self.copies + self.frozen + self.activations
        return floats * BYTES_PER_FLOAT

    def __add__(self, other):
        """Two networks trained together (a GAN's G and D)."""
        if self.copies != other.copies:
            raise ValueError("ModelSize + ModelSize: the optimizers differ")
        return ModelSize(self.parameters + other.parameters,
                         self.activations + other.activations, self.frozen + other.frozen,
                         self.copies)


class Counter:
    """Adds up a network's weights and activations layer by layer, as its builder makes it.

    Each method takes the sizes of one layer and returns its output's last
    dimension (channels, units), so an estimate reads like the builder:

        count = Counter()
        x = count.dense(784, 256)   # (batch, 256)
        count.output(x)             # the activation function's output, also kept
    Activations are per example; `size(batch_size)` multiplies them out.
    """

    def __init__(self):
        self.parameters = 0
        self.activations = 0

    def weights(self, count):
        self.parameters += count

    def output(self, count):
        """An output of `count` floats per example that the backward pass keeps."""
        self.activations += count
        return count

    def dense(self, inputs, units, bias=True, positions=1):
        """A Dense layer applied at `positions` places (time steps, pixels) of each example."""
        self.weights(inputs * units + (units if bias else 0))
        self.output(positions * units)
        return units

    def conv(self, channels_in, filters, kernel_size, pixels_out, bias=True):
        """A 2-D convolution (or transposed convolution) with `pixels_out` output positions."""
        self.weights(kernel_size * kernel_size * channels_in * filters + (filters if bias else 0))
        self.output(pixels_out * filters)
        return filters

    def recurrent(self, inputs, units, steps, gates=4, biases=1, extra=0):
        """A recurrent layer over `steps` time steps: `gates` blocks of (inputs + units + biases)
        x units weights (LSTM 4, GRU 3, simple RNN 1) plus `extra` (peepholes).

        Kept per step: the gates before and after their activations, the state
        and the output (measured: a 2 x 512 LSTM char-RNN took 6 MB per example
        of 100 steps, about 14 floats per unit and step).
        """
        self.weights(gates * units * (inputs + units + biases) + extra)
        self.output(steps * 2 * (gates + 2) * units)
        return units

    def size(self, batch_size, copies=ADAM_COPIES, frozen=0):
        return ModelSize(self.parameters, self.activations * batch_size, frozen, copies)


def available_bytes():
    """Memory this process can still take, in bytes, or None where it cannot be read.

    MemAvailable from /proc/meminfo (free memory plus what the kernel can
    reclaim), lowered to what a container's memory limit leaves; else the
    physical memory from os.sysconf; else None (no check).
    """
    available = _meminfo_available()
    if available is None:
        try:
            available = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):
            return None
    left = _cgroup_left()
    return available if left is None else min(available, left)


def _meminfo_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


# (limit, usage) files of a container's memory cgroup: version 2, then version 1.
CGROUP_FILES = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                 "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def _cgroup_left():
    """What the memory cgroup's limit leaves, or None without a limit ("max", or huge)."""
    for limit_path, usage_path in CGROUP_FILES:
        try:
            with open(limit_path) as f:
                limit = f.read().strip()
            with open(usage_path) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2 ** 60:  # v1 writes "no limit" as ~2**63
            return max(int(limit) - usage, 0)
        return None
    return None


def check_fits(size, lower, available=None):
    """UsageError (one line: the estimate and the flags to lower) if `size` cannot train here.

    `lower` names the flags that shrink this model ("--units, --num_layers or
    --batch_size"); `available` (bytes) defaults to available_bytes(), and
    where that cannot be read nothing is checked.
    """
    if available is None:
        available = available_bytes()
    needed = size.training_bytes()
    if available is None or needed <= available:
        return
    activations = size.activations * BYTES_PER_FLOAT
    raise UsageError(
        f"this model needs about {needed / GIB:,.1f} GiB to train "
        f"({size.parameters / 1e6:,.1f}M parameters, {activations / GIB:,.1f} GiB of "
        f"activations per batch), more than the {available / GIB:,.1f} GiB this machine has "
        f"available; lower {lower}")
