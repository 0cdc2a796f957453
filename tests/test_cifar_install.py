"""The default data path of `python -m week2_cnn.cifar10 train` (tfds) imports on this install.

`train` without --data_dir goes through tensorflow_datasets' cifar10 builder;
on a fresh install that path once failed with `No module named
'importlib_resources'` (tfds imports it lazily, only when a builder first reads
its bundled checksums). This reads them, offline: nothing is downloaded.
"""

from week2_cnn.cifar_data import tfds_modules


def test_the_tfds_cifar10_builder_and_its_checksums_load(tmp_path):
    tfds, cifar = tfds_modules()
    assert cifar.Cifar10.name == "cifar10"
    builder = tfds.builder("cifar10", data_dir=str(tmp_path))
    # What download_and_prepare reads first: the URL and checksum shipped with tfds.
    urls = builder.url_infos
    assert any("cifar-10" in url for url in urls), urls
    assert builder.info.features["label"].num_classes == 10


def test_the_default_path_prepares_and_loads_through_tfds(tmp_path, monkeypatch):
    """tfds's real cifar10 builder, with the download replaced by a local archive folder."""
    from tests.test_cifar_data import random_batch, write_binary_layout
    from week2_cnn.cifar_data import load_tfds

    tfds, _ = tfds_modules()
    batches = [random_batch(6, 1), random_batch(4, 2)]  # data_batch_1.bin, test_batch.bin
    write_binary_layout(tmp_path / "download" / "cifar-10-batches-bin", batches)
    (tmp_path / "download" / "cifar-10-batches-bin" / "batches.meta.txt").write_text(
        "\n".join(f"class{i}" for i in range(10)) + "\n")
    monkeypatch.setattr(tfds.download.DownloadManager, "download_and_extract",
                        lambda self, url: str(tmp_path / "download"))
    # The builder reads five training files; the first holds all six images.
    for name in ("data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                 "data_batch_5.bin"):
        (tmp_path / "download" / "cifar-10-batches-bin" / name).write_bytes(b"")
    data = load_tfds(data_dir=str(tmp_path / "tfds"))
    assert data.x_train.shape == (6, 32, 32, 3) and data.x_test.shape == (4, 32, 32, 3)
    assert data.class_names == [f"class{i}" for i in range(10)]
    for (x, y), (images, labels) in zip(((data.x_train, data.y_train),
                                         (data.x_test, data.y_test)), batches):
        # tfds stores examples in its own order: compare (image, label) pairs as sets.
        pairs = sorted((a.tobytes(), int(b)) for a, b in zip(x, y))
        assert pairs == sorted((a.tobytes(), int(b)) for a, b in zip(images, labels))
