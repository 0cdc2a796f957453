"""common.batching: epoch e's batches depend only on (seed, e), and every trainer that shuffles
per epoch gives a resumed run the batches and the weights of an uninterrupted one.

The per-command tests train 2 epochs in-process through each command's CLI at the test
preset on tiny generated data, resume a copy of the run taken after epoch 1, and compare
the second epoch's batches and every variable of the two final checkpoints (model and
optimizer), bit for bit.
"""

import importlib
import io
import json
import os
import shutil
import zipfile

import h5py
import numpy as np
import pytest
import tensorflow as tf

from common.batching import (epoch_order, ordered_batches, sequence_lengths,
                             shuffled_batches)
from common.cli import run_cli
from common.training import whole_executions
from tests.conftest import make_corpus
from tests.test_cifar_cli import colour_layout
from tests.test_transfer import make_photo_folder, save_small_base
from tests.test_week1_mnist import digit_like


def epochs_of(data, steps, epochs):
    """[[batch, ...] per epoch] of the first `epochs` epochs, as NumPy."""
    batches = [tf.nest.map_structure(lambda t: t.numpy(), b)
               for b in data.take(steps * epochs)]
    return [batches[e * steps:(e + 1) * steps] for e in range(epochs)]


def test_epoch_order_depends_only_on_seed_and_epoch():
    items = np.arange(10) * 10
    straight = epochs_of(shuffled_batches(items, 3, seed=7, first_epoch=0), 3, 4)
    resumed = epochs_of(shuffled_batches(items, 3, seed=7, first_epoch=2), 3, 2)
    np.testing.assert_array_equal(straight[2:], resumed)
    for epoch in straight:
        seen = np.concatenate(epoch)
        # 3 full batches of 3: 9 of the 10 items, each once; the ragged rest is dropped.
        assert len(seen) == 9 and len(set(seen)) == 9 and set(seen) <= set(items)
    assert not np.array_equal(straight[0], straight[1])  # each epoch its own order
    assert set(np.concatenate([np.concatenate(e) for e in straight])) == set(items)
    other_seed = epochs_of(shuffled_batches(items, 3, seed=8, first_epoch=0), 3, 1)
    assert not np.array_equal(straight[0], other_seed[0])


def test_parts_are_shuffled_together_and_num_epochs_ends_the_data():
    images, labels = np.arange(12).reshape(6, 2), np.arange(6) * 100
    data = shuffled_batches({"x": images, "y": labels}, 2, seed=0, first_epoch=1,
                            num_epochs=3, transform=lambda b: (b["x"], b["y"]))
    batches = list(data)
    assert len(batches) == 6  # epochs 1 and 2, 3 batches each
    for x, y in batches:
        np.testing.assert_array_equal(x.numpy()[:, 0] * 50, y.numpy())


def test_a_long_epoch_takes_passes_each_in_an_order_of_its_own():
    items = np.arange(5)
    one_pass = epochs_of(shuffled_batches(items, 5, seed=3, first_epoch=4), 1, 1)[0]
    long_epoch = np.concatenate(
        epochs_of(shuffled_batches(items, 4, seed=3, first_epoch=4, steps_per_epoch=3), 3,
                  1)[0])  # 12 items: pass 0, pass 1, then 2 of pass 2
    np.testing.assert_array_equal(long_epoch[:5], one_pass[0])  # pass 0 is the epoch's order
    assert sorted(long_epoch[5:10]) == list(items)
    assert not np.array_equal(long_epoch[:5], long_epoch[5:10])
    order = epoch_order(tf.constant(5), 12, tf.constant([3, 4], tf.int64)).numpy()
    np.testing.assert_array_equal(order, long_epoch)


def test_variable_length_sequences_are_padded_per_batch():
    sequences = [[1, 2], [3], [4, 5, 6], [7], [8, 9], [10]]
    data = shuffled_batches((sequences, np.arange(6)), 2, seed=1, first_epoch=0, pad_value=0)
    for ids, index in epochs_of(data, 3, 2)[1]:
        longest = max(len(sequences[i]) for i in index)
        assert ids.shape == (2, longest)  # the batch's longest, not the data's
        for row, i in zip(ids, index):
            n = len(sequences[i])
            assert list(row[:n]) == sequences[i] and not row[n:].any()  # 0: mask_zero's pad


def test_bucketed_batches_hold_similar_lengths_and_depend_only_on_seed_and_epoch():
    rng = np.random.default_rng(3)
    sequences = [list(range(1, n + 1)) for n in rng.integers(1, 60, size=96)]
    lengths = sequence_lengths(sequences)

    def bucketed(first_epoch):
        return shuffled_batches((sequences, np.arange(96)), 4, seed=2, first_epoch=first_epoch,
                                lengths=lengths, bucket_batches=6)

    straight, resumed = epochs_of(bucketed(0), 24, 3), epochs_of(bucketed(2), 24, 1)
    for a, b in zip(straight[2], resumed[0]):  # a resumed run sees the same batches
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    padding = []
    for epoch in straight:
        index = np.concatenate([i for _, i in epoch])
        assert sorted(index) == list(range(96))  # every item once per epoch
        for ids, i in epoch:
            assert ids.shape[1] == lengths[i].max()  # padded to the batch's longest
            padding.append(lengths[i].max() * 4 - lengths[i].sum())
        # Batches come in a shuffled order, not sorted by length.
        longest = [lengths[i].max() for _, i in epoch]
        assert longest != sorted(longest)
    unbucketed = epochs_of(shuffled_batches(sequences, 4, seed=2, first_epoch=0), 24, 3)
    unbucketed_padding = [ids.size - (ids > 0).sum() for epoch in unbucketed for ids in epoch]
    # Sorting each bucket of 24 items by length cuts padding several-fold.
    assert sum(padding) * 3 < sum(unbucketed_padding)
    assert not np.array_equal(np.concatenate([i for _, i in straight[0]]),
                              np.concatenate([i for _, i in straight[1]]))


def test_ordered_batches_keep_the_order_and_pad_per_batch():
    sequences = [[1, 2, 3], [4], [5, 6], [7, 8, 9, 10], [11]]
    batches = [(ids.numpy(), labels.numpy())
               for ids, labels in ordered_batches((sequences, np.arange(5)), 2)]
    assert [labels.tolist() for _, labels in batches] == [[0, 1], [2, 3], [4]]
    assert [ids.tolist() for ids, _ in batches] == [[[1, 2, 3], [4, 0, 0]],
                                                   [[5, 6, 0, 0], [7, 8, 9, 10]], [[11]]]


def test_augmentation_seeds_depend_only_on_seed_epoch_and_step():
    def with_seed(batch, seed, epoch):
        return batch, seed

    straight = epochs_of(shuffled_batches(np.arange(8), 2, 5, 0, augment=with_seed), 4, 3)
    resumed = epochs_of(shuffled_batches(np.arange(8), 2, 5, 2, augment=with_seed), 4, 1)
    np.testing.assert_array_equal([s for _, s in straight[2]], [s for _, s in resumed[0]])
    seeds = {tuple(s) for epoch in straight for _, s in epoch}
    assert len(seeds) == 12  # every (epoch, step) its own seed


def test_cifar_augmentation_is_a_function_of_its_seed():
    from week2_cnn.cifar_training import augment

    images = tf.constant(np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3)), tf.uint8)
    first, again = (augment(images, 2, tf.constant([1, 2], tf.int64)) for _ in range(2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, augment(images, 2, tf.constant([1, 3], tf.int64)))


# --- every trainer: 2 epochs straight == the same run stopped after epoch 1, resumed ---------

def final_variables(run_dir):
    """{path: array} of every variable in the run's last checkpoint (model and optimizer)."""
    with open(os.path.join(run_dir, "state.json"), encoding="utf-8") as f:
        checkpoint = json.load(f)["checkpoint"]
    with zipfile.ZipFile(os.path.join(run_dir, checkpoint)) as archive:
        weights = io.BytesIO(archive.read("model.weights.h5"))
    found = {}
    with h5py.File(weights, "r") as h5:
        h5.visititems(lambda name, item: found.__setitem__(name, item[()])
                      if isinstance(item, h5py.Dataset) else None)
    return found


def assert_resume_equals_straight(main, argv, tmp_path, monkeypatch, compare_weights=True):
    """`train argv` runs 2 epochs; a copy of its run folder taken after epoch 1 (what a run
    killed then leaves) is resumed with `--resume`. The resumed run's epoch 2 has the
    uninterrupted run's batches, and (where the model draws no other random numbers)
    both end with the same variables, bit for bit.

    A copy rather than a run with `--epochs 1`: word2vec's and CIFAR-10's learning-rate
    schedules span the run's epochs, so a 1-epoch run is another run; and one training
    fewer keeps this file fast.
    """
    from common import lifecycle
    from common.runs import LOCK_NAME
    from common.training import EpochCheckpoint

    straight, split = str(tmp_path / "straight"), str(tmp_path / "split")
    finish_epoch, train_job, jobs = EpochCheckpoint.on_epoch_end, lifecycle.train, {}

    def copy_after_epoch_1(self, epoch, logs=None):
        finish_epoch(self, epoch, logs)
        if epoch == 0 and os.path.abspath(self.run_dir.path) == straight:
            shutil.copytree(straight, split, ignore=shutil.ignore_patterns(LOCK_NAME))

    def recording_train(job):  # the data each run trains on, by run folder
        jobs[os.path.abspath(job.out_dir)] = job
        return train_job(job)

    monkeypatch.setattr(EpochCheckpoint, "on_epoch_end", copy_after_epoch_1)
    monkeypatch.setattr(lifecycle, "train", recording_train)
    train = ["train", *argv, "--verbose", "0"]
    assert run_cli(main, [*train, "--out_dir", straight]) is None
    with open(os.path.join(split, "state.json"), encoding="utf-8") as f:
        assert json.load(f)["epoch"] == 1
    assert run_cli(main, [*train, "--out_dir", split, "--resume"]) is None
    # The uninterrupted run's data, read from its start, against the resumed run's, read
    # from epoch 2 (where the lifecycle started it).
    steps = jobs[straight].steps_per_epoch
    straight_batches = epochs_of(jobs[straight].train_data(0), steps, 2)[1]
    resumed_batches = epochs_of(jobs[split].train_data(1), steps, 1)[0]
    for a, b in zip(tf.nest.flatten(straight_batches), tf.nest.flatten(resumed_batches),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    if not compare_weights:
        return
    expected, resumed = final_variables(straight), final_variables(split)
    assert expected.keys() == resumed.keys() and len(expected) > 2
    for name, value in expected.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Tiny inputs for every command: texts, an MNIST .npz, a CIFAR folder, photos, a base."""
    root = tmp_path_factory.mktemp("batching_data")
    text = root / "corpus.txt"
    text.write_text(make_corpus(24), encoding="utf-8")
    mnist = root / "mnist"
    mnist.mkdir()
    x, y = digit_like(80, 0)
    np.savez(mnist / "mnist.npz", x_train=x, y_train=y)  # no test split: nothing to evaluate
    return {"root": str(root), "text": str(text), "mnist": str(mnist),
            "cifar": str(colour_layout(root / "cifar", per_class=8, test_per_class=1)),
            "photos": str(make_photo_folder(root / "photos", per_class=8, size=(16, 16))),
            "base": save_small_base(root)}


# (command module, its train flags); {name} is a path from the `data` fixture.
COMMANDS = {
    # Short sequences: the RNNs' graphs (unrolled under XLA) build in a fraction of the time.
    "char_rnn": ("week3_rnn.char_rnn", "--text {text} --seq_length 8"),
    "spacing": ("week3_rnn.spacing", "--text {text} --window 8 --num_layers 1"),
    # Batches only: its NCE negatives come from TF's stateful candidate samplers, whose
    # state no checkpoint holds, so a resumed run draws other negatives.
    "word2vec": ("word2vec.skipgram", "--text {text}"),
    "mnist": ("week1_basics.mnist", "--data_dir {mnist}"),
    # 3 steps of 16 cut to one call of 2: a call running on into the next epoch's
    # batches would give the resumed run other batches and other weights.
    "mnist_calls": ("week1_basics.mnist", "--data_dir {mnist} --steps_per_execution 2"),
    "autoencoder": ("week1_basics.autoencoder", "--data_dir {mnist}"),
    # Pretraining stages of 1 epoch, then the fine-tuning run this resumes: its 20 labelled
    # images make 4 passes per epoch (4 steps of 16, min_steps_per_epoch).
    "stacked_autoencoder": ("week1_basics.autoencoder", "--data_dir {mnist} --arch stacked "
                            "--labels 20 --epochs 1 --fine_tune_epochs 2"),
    "cifar10": ("week2_cnn.cifar10", "--data_dir {cifar} --cache_dir {root}/cache"),
    "transfer": ("week2_cnn.transfer", "--image_dir {photos} --base {base} --weights none "
                 "--bottleneck_dir {root}/bottlenecks"),
    "dcgan": ("gan.dcgan", "--data_dir {mnist}"),
    "vae": ("gan.vae", "--data_dir {mnist}"),
    # A generated task: 200 strings of 5-6 letters, no file.
    "translate": ("week3_rnn.translate", "--dataset reverse --max_examples 200 --max_length 6"),
    # The generated order task: 200 sentences of up to 14 words, padded per batch.
    "sentiment": ("week3_rnn.sentiment", "--dataset order --max_examples 200"),
    # Generated bAbI task 1, 200 questions; 2 tries of 1 epoch, so the resumed epoch is the
    # second try's: new initial weights, linear start again, random-noise time indices.
    "memn2n": ("week4_qa.memn2n", "--stories 200 --tries 2 --epochs 1"),
}


def test_an_epoch_is_whole_calls_of_steps_per_execution():
    assert whole_executions(421, 10) == (10, 420)
    assert whole_executions(420, 10) == (10, 420)
    assert whole_executions(4, 10) == (4, 4)      # fewer steps than a call: one call
    assert whole_executions(7, 1) == (1, 7)


@pytest.mark.parametrize("command", COMMANDS)
def test_resume_equals_uninterrupted_training(command, data, tmp_path, monkeypatch):
    module, flags = COMMANDS[command]
    main = importlib.import_module(module).main
    argv = ["--preset", "test", "--epochs", "2", *flags.format(**data).split()]
    assert_resume_equals_straight(main, argv, tmp_path, monkeypatch,
                                  compare_weights=command != "word2vec")
