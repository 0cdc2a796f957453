"""Writing SavedModels that serve without this project's code."""

import os
import shutil

import tensorflow as tf

from common.cli import UsageError


def check_export_dir(export_dir, overwrite):
    """Refuses to replace an existing export unless asked to."""
    if os.path.exists(export_dir) and not overwrite:
        raise UsageError(f"{export_dir} already exists; pass --overwrite to replace it")


def save_servable(module, export_dir, signatures, overwrite=False):
    """tf.saved_model.save into a temporary folder, then swap it into place.

    A failure half way leaves any earlier export untouched.
    """
    check_export_dir(export_dir, overwrite)
    export_dir = os.path.abspath(export_dir)
    parent = os.path.dirname(export_dir)
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".staging-{os.getpid()}-{os.path.basename(export_dir)}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        # Servables are for inference; custom gradients (FastLSTM) are not kept.
        options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
        tf.saved_model.save(module, staging, signatures=signatures, options=options)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if os.path.exists(export_dir):
        retired = staging + ".old"
        os.replace(export_dir, retired)
        os.replace(staging, export_dir)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, export_dir)
    return export_dir
