"""Per-epoch shuffled batches whose order depends only on (seed, epoch).

Every trainer that shuffles per epoch batches its arrays here:

    data = shuffled_batches((images, labels), batch_size=128, seed=0, first_epoch=3)

Epoch e is ordered by a stateless permutation keyed by (seed, e), and batch s
of epoch e is augmented with a seed made from (seed, e, s), so a run resumed
at epoch 3 sees exactly the batches (and the augmentations) an uninterrupted
run sees from its epoch 3 on: nothing depends on how many epochs this process
ran before, or on a random generator's state that a checkpoint does not hold.

Every epoch has the same number of full batches (`steps_per_epoch`, default
items // batch_size): the ragged rest of each shuffled epoch is dropped (a
different rest every epoch), so one traced training step serves the whole
run. An epoch longer than one pass over the items takes further passes, each
with a permutation of its own.

Variable-length sequences can be bucketed (`lengths=`): each run of
`bucket_batches` batches of the shuffled order is sorted by length before it
is cut into batches, and the epoch's batches are then shuffled again, so a
batch holds sequences of similar length (little padding) while which
sequences meet still changes every epoch; still keyed by (seed, epoch) alone.
"""

import numpy as np
import tensorflow as tf

ENDLESS = 2 ** 62  # epochs of an endless dataset; fit stops after steps_per_epoch * epochs
BUCKET_BATCHES = 20  # batches whose sequences are sorted by length together
BATCH_ORDER_STREAM = 2 ** 40  # the stream of an epoch's key that orders its bucketed batches


def epoch_order(count, length, key):
    """(length,) int32 indices into `count` items: the permutation(s) of one epoch.

    `key` is the epoch's stateless seed, (2,) int64. Pass 0 over the items is
    permuted by `key` itself; a longer epoch's pass p by stateless_fold_in(key,
    p), so the first pass does not depend on how long the epoch is. `count`
    and `length` may be tensors (word2vec's examples are counted in the graph).
    """
    count = tf.cast(count, tf.int32)
    passes = (length + count - 1) // tf.maximum(count, 1)

    def permutation(p):
        p = tf.cast(p, tf.int64)
        seed = tf.cond(p > 0, lambda: tf.random.experimental.stateless_fold_in(key, p),
                       lambda: tf.cast(key, tf.int64))
        return tf.random.experimental.stateless_shuffle(tf.range(count), seed=seed)

    orders = tf.map_fn(permutation, tf.range(passes), fn_output_signature=tf.int32)
    return tf.reshape(orders, [-1])[:length]  # (passes * count,) cut to the epoch


def batch_seed(key, step):
    """(2,) int64 seed of batch `step` of the epoch keyed `key`, for its random augmentation.

    Stream 0 of the epoch's key (the extra shuffle passes use streams 1, 2, ...).
    """
    stream = tf.random.experimental.stateless_fold_in(key, tf.constant(0, tf.int64))
    return tf.random.experimental.stateless_fold_in(stream, tf.cast(step, tf.int64))


def bucketed(order, lengths, batch_size, bucket_batches, key):
    """(steps, batch_size) item numbers: `order` cut into batches of similar length.

    Each run of bucket_batches * batch_size items of `order` is sorted by
    length (a stable sort, so ties keep the shuffled order); the batches are
    then put in an order keyed by `key`'s BATCH_ORDER_STREAM.
    """
    size = tf.shape(order)[0]
    steps = size // batch_size
    bucket = tf.cast(tf.range(size) // (bucket_batches * batch_size), tf.int64)
    item_lengths = tf.cast(tf.gather(lengths, order), tf.int64)
    sort_key = bucket * (tf.reduce_max(item_lengths) + 1) + item_lengths
    order = tf.gather(order, tf.argsort(sort_key, stable=True))
    batches = tf.reshape(order, [steps, batch_size])
    stream = tf.random.experimental.stateless_fold_in(key, tf.constant(BATCH_ORDER_STREAM,
                                                                       tf.int64))
    return tf.gather(batches, tf.random.experimental.stateless_shuffle(tf.range(steps),
                                                                       seed=stream))


def sequence_lengths(sequences):
    """(N,) int32 lengths of a list of sequences, for `lengths=`."""
    return np.fromiter(map(len, sequences), np.int32, len(sequences))


def _as_tensor(array):
    """A tensor of the items; variable-length sequences (a list of lists) become ragged."""
    if isinstance(array, (tf.Tensor, tf.RaggedTensor)):
        return array
    if isinstance(array, (list, tuple)) and len({len(row) for row in array}) > 1:
        return tf.ragged.constant([list(row) for row in array])
    return tf.constant(np.asarray(array))


def shuffled_batches(data, batch_size, seed, first_epoch, steps_per_epoch=None,
                     num_epochs=None, transform=None, augment=None, pad_value=0,
                     lengths=None, bucket_batches=BUCKET_BATCHES):
    """The batches of epochs first_epoch, first_epoch + 1, ... (endless unless num_epochs).

    data: an array of items, or a tuple or dict of them with the same first
        dimension (images (N, 28, 28, 1) with labels (N,), say). A list of
        variable-length sequences is padded per batch to the batch's longest
        with `pad_value` (0 is what Embedding(mask_zero=True) masks).
    steps_per_epoch: batches per epoch; default items // batch_size.
    augment(batch, seed, epoch): a random change of each batch, drawing only from the
        stateless seed it gets ((2,) int64, from (seed, epoch, step) alone); epoch (int64
        scalar) is for changes that follow the epoch (CIFAR-10's alternating flip).
    transform(batch): what the model reads, e.g. (images, one-hot labels).
    lengths: (N,) the items' sequence lengths, to bucket batches by length
        (module docstring); bucket_batches: how many batches a bucket spans.
    Batches have data's structure, each part (batch_size, ...), until transformed.
    """
    # One level of structure: a tuple or dict of arrays; a list is the items themselves.
    if isinstance(data, dict):
        items = {name: _as_tensor(part) for name, part in data.items()}
    else:
        items = (tuple(map(_as_tensor, data)) if isinstance(data, tuple)
                 else _as_tensor(data))
    count = int(tf.nest.flatten(items)[0].shape[0])
    if lengths is not None:
        lengths = tf.constant(np.asarray(lengths, np.int32))
    steps = count // batch_size if steps_per_epoch is None else steps_per_epoch
    if steps < 1:
        raise ValueError(f"{count} items make no batch of {batch_size}")

    def epoch_indices(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = epoch_order(count, steps * batch_size, key)
        batches = (tf.reshape(order, [steps, batch_size]) if lengths is None else
                   bucketed(order, lengths, batch_size, bucket_batches, key))
        return tf.data.Dataset.from_tensor_slices(
            (tf.fill([steps], epoch), tf.range(steps), batches))

    def make_batch(epoch, step, index):  # index: (batch_size,) item numbers
        batch = tf.nest.map_structure(
            lambda part: (tf.gather(part, index).to_tensor(default_value=pad_value)
                          if isinstance(part, tf.RaggedTensor) else tf.gather(part, index)),
            items)
        if augment is not None:
            key = tf.stack([tf.constant(seed, tf.int64), epoch])
            batch = augment(batch, batch_seed(key, step), epoch)
        return batch if transform is None else transform(batch)

    return (tf.data.Dataset.range(first_epoch, num_epochs or ENDLESS)
            .flat_map(epoch_indices)
            .map(make_batch, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def ordered_batches(data, batch_size, transform=None, pad_value=0):
    """All items in their order, batched (the last batch may be smaller): for evaluation.

    `data` as in shuffled_batches; variable-length sequences are padded per
    batch with `pad_value`.
    """
    if isinstance(data, dict):
        items = {name: _as_tensor(part) for name, part in data.items()}
    else:
        items = (tuple(map(_as_tensor, data)) if isinstance(data, tuple)
                 else _as_tensor(data))

    def pad(*parts):  # Dataset.map passes a tuple's parts as separate arguments
        batch = parts if isinstance(items, tuple) else parts[0]
        return tf.nest.map_structure(
            lambda part: (part.to_tensor(default_value=pad_value)
                          if isinstance(part, tf.RaggedTensor) else part), batch)

    dataset = tf.data.Dataset.from_tensor_slices(items).batch(batch_size).map(pad)
    if transform is not None:
        dataset = dataset.map(transform)
    return dataset.prefetch(tf.data.AUTOTUNE)
