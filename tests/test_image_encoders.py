"""common.image_encoders and the image-header checks that VQA and captioning share."""

import numpy as np
import pytest
from PIL import Image

from common.cli import UsageError
from common.image_encoders import (build_image_encoder, check_encoder, grid_features,
                                   grid_shape, is_frozen)
from common.images import MIN_SIDE, check_image_header, load_query_images


def test_small_cnn_grid_shape_matches_its_prediction():
    encoder = build_image_encoder("small_cnn", 36, widths=(4, 8))
    images = np.random.default_rng(0).integers(0, 256, (3, 36, 36, 3), dtype=np.uint8)
    grids = grid_features(encoder, images, batch_size=2, progress=False)
    assert grids.shape == (3, 9, 9, 8) == (3,) + grid_shape("small_cnn", 36, (4, 8))
    assert grids.dtype == np.float32 and np.all(grids >= 0)  # ReLU then max pooling


def test_grid_features_equal_one_batch_and_keep_order():
    encoder = build_image_encoder("small_cnn", 16, widths=(4,))
    images = np.random.default_rng(1).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    whole = np.asarray(encoder(images, training=False))
    np.testing.assert_allclose(grid_features(encoder, images, 2, progress=False), whole,
                               rtol=1e-5, atol=1e-6)


def test_frozen_application_grid_without_weights():
    encoder = build_image_encoder("mobilenet_v2", 32, weights="none")
    assert not encoder.trainable and is_frozen("mobilenet_v2") and not is_frozen("small_cnn")
    assert tuple(encoder.output.shape[1:]) == grid_shape("mobilenet_v2", 32) == (1, 1, 1280)


def test_unknown_encoder_and_too_small_images_are_refused():
    with pytest.raises(UsageError, match="unknown encoder"):
        check_encoder("alexnet")
    with pytest.raises(UsageError, match="at least 75x75"):
        check_encoder("inception_v3", 64)


@pytest.mark.parametrize("size, message", [((1, 1), "at least"), ((4, 40), "at least"),
                                           ((9000, 9000), "more than the limit")])
def test_image_headers_out_of_range_are_refused_before_decoding(tmp_path, size, message):
    path = tmp_path / "x.png"
    Image.new("1", size).save(path)  # 1-bit, so even 9000x9000 is a small file
    with pytest.raises(UsageError, match=message):
        check_image_header(path, MIN_SIDE)
    with pytest.raises(UsageError, match=message):
        load_query_images([str(path)], 16, min_side=MIN_SIDE)


def test_a_file_that_is_not_an_image_is_left_to_the_decoder(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"not an image")
    check_image_header(path, MIN_SIDE)  # no header to judge
    with pytest.raises(UsageError, match="none of the 1 files is a readable image"):
        load_query_images([str(path)], 16, min_side=MIN_SIDE)
