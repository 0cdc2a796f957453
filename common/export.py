"""The export contract: servables that run without this project's code.

Every export folder holds `tfcourse_export.json`, the marker that says this
project wrote it. `--overwrite` replaces only a folder with that marker, never
anything else (not the run directory, the current folder, a home folder, or a
folder of someone else's files), and an export is written to a staging folder
beside the target and swapped in, so a failure or a kill at any moment leaves
any earlier export whole (and the next export puts it back if a kill fell
between the two renames).

Every SavedModel has, besides its own signatures, `metadata() -> {json, ...}`:
the command, the project version, the config, the class names or vocabulary
(`class_names`, `vocabulary` also as string tensors), and every signature's
input names and dtypes. Counts, lengths and seeds are int32.
"""

import json
import os
import re
import shutil

from common.cli import UsageError
from common.folders import check_not_system
from common.files import atomic_write_json, contains, process_alive
from common.provenance import PROJECT_VERSION

MARKER = "tfcourse_export.json"
STAGED, RETIRED = ".tmp-", ".old-"


def is_own_export(path):
    """Whether `path` is a folder holding this project's export marker."""
    marker = os.path.join(path, MARKER)
    if not (os.path.isdir(path) and os.path.isfile(marker)):
        return False
    try:
        with open(marker, encoding="utf-8") as f:
            return json.load(f).get("project") == "tfcourse"
    except (OSError, ValueError, AttributeError):
        return False


def check_export_dir(export_dir, overwrite, run_dir=None):
    """The absolute export path, or UsageError if writing there could lose anything."""
    if not export_dir or not str(export_dir).strip():
        raise UsageError("--export_dir is empty; name the folder to write the export into")
    path = os.path.abspath(export_dir)
    check_not_system(path, "--export_dir")
    protected = [os.getcwd(), os.path.expanduser("~")] + ([run_dir] if run_dir else [])
    for place in protected:
        if contains(path, place):
            raise UsageError(f"--export_dir {export_dir} is or contains {place}; "
                             "choose a new folder for the export")
    if run_dir and contains(run_dir, path):
        raise UsageError(f"--export_dir {export_dir} lies inside the run directory {run_dir}; "
                         "exports go outside it")
    if os.path.lexists(path):
        if not overwrite:
            raise UsageError(f"{export_dir} already exists; pass --overwrite to replace an "
                             "earlier export")
        if not is_own_export(path):
            raise UsageError(f"{export_dir} exists and is not an export written by this "
                             f"project (no {MARKER}); refusing to replace it")
    return path


def write_export_folder(export_dir, fill, marker, overwrite=False, run_dir=None):
    """Calls fill(staging_folder), then swaps the staging folder in as `export_dir`."""
    path = check_export_dir(export_dir, overwrite, run_dir)
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    _recover_and_clean(parent, name)
    # A recovered earlier export now stands at `path`: only --overwrite replaces it.
    check_export_dir(export_dir, overwrite, run_dir)
    staging = os.path.join(parent, f"{STAGED}{os.getpid()}-{name}")
    retired = os.path.join(parent, f"{RETIRED}{os.getpid()}-{name}")
    marker = {"project": "tfcourse", "version": PROJECT_VERSION, **marker}
    os.makedirs(staging)
    try:
        atomic_write_json(os.path.join(staging, MARKER), marker)  # marks it ours first
        fill(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if os.path.lexists(path):
        os.replace(path, retired)
        os.replace(staging, path)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, path)
    return path


def _recover_and_clean(parent, name):
    """Puts back an earlier export a killed swap left aside; removes dead staging folders."""
    target = os.path.join(parent, name)
    for entry in sorted(os.listdir(parent)):
        for prefix in (STAGED, RETIRED):
            pid, _, rest = entry[len(prefix):].partition("-")
            if not (entry.startswith(prefix) and rest == name and pid.isdigit()):
                continue
            folder = os.path.join(parent, entry)
            if process_alive(int(pid)) or not is_own_export(folder):
                continue
            if prefix == RETIRED and not os.path.lexists(target):
                os.replace(folder, target)
            else:
                shutil.rmtree(folder, ignore_errors=True)


def input_signatures(signatures):
    """{signature: {input name: {"dtype", "shape"}}} of concrete functions."""
    described = {}
    for key, function in signatures.items():
        concrete = (function.get_concrete_function()
                    if hasattr(function, "get_concrete_function") else function)
        positional, named = concrete.structured_input_signature
        specs = {spec.name: spec for spec in positional if hasattr(spec, "dtype")}
        specs.update(named)
        described[key] = {name: {"dtype": spec.dtype.name, "shape": spec.shape.as_list()}
                          for name, spec in sorted(specs.items())}
    return described


def with_metadata(module, signatures, kind, info):
    """`signatures` plus `metadata`, a constant JSON description of the export.

    `info` may hold `class_names` or `vocabulary` (lists of strings), which
    are also returned as string tensors, and `config`.
    """
    import tensorflow as tf

    payload = {"kind": kind, "project": PROJECT_VERSION, **info,
               "signatures": input_signatures(signatures)}
    text = json.dumps(payload, ensure_ascii=False)
    lists = {key: list(info[key]) for key in ("class_names", "vocabulary") if key in info}

    @tf.function(input_signature=[])
    def metadata():
        out = {"json": tf.constant(text)}
        for key, values in lists.items():
            out[key] = tf.constant(values, tf.string)
        return out

    module.metadata_function = metadata  # tracked, so it is saved with the module
    return {**signatures, "metadata": metadata.get_concrete_function()}


def save_servable(module, export_dir, signatures, overwrite=False, run_dir=None, kind=None,
                  info=None):
    """tf.saved_model.save of `module` (with the metadata signature) as an export folder."""
    import tensorflow as tf

    signatures = with_metadata(module, signatures, kind or "unknown", info or {})

    def fill(staging):
        # Servables are for inference; custom gradients (FastLSTM) are not kept.
        options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
        tf.saved_model.save(module, staging, signatures=signatures, options=options)

    return write_export_folder(export_dir, fill, {"kind": kind, "format": "saved_model"},
                               overwrite, run_dir)


def frozen(function):
    """A concrete function with its variables folded in as constants, same input and output names.

    LiteRT's interpreter cannot read TensorFlow resource variables, and the
    converter's own freezing (without a trackable object) drops the signature.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    constant = convert_variables_to_constants_v2(function)
    names = sorted(function.structured_outputs)  # the flattening order of a dict

    def call(*args):
        outputs = constant(*args)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return dict(zip(names, outputs))

    specs = list(function.structured_input_signature[0])
    return tf.function(call, input_signature=specs).get_concrete_function()


def save_litert(functions, export_dir, overwrite=False, run_dir=None, kind=None, info=None,
                trackable=None):
    """One `<name>.tflite` per concrete function in `functions`, plus metadata.json.

    Each function must return a dict; each .tflite has one `serving_default`
    signature with the function's input and output names. UsageError naming
    the operation when a function has ops LiteRT lacks. (`trackable` is
    accepted for callers that pass one; variables are frozen either way.)
    """
    import tensorflow as tf

    models = {}
    for name, function in functions.items():
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen(function)],
                                                                     tf.Module())
        try:
            models[name] = converter.convert()
        except Exception as error:  # the converter raises ConverterError and others
            ops = sorted(set(re.findall(r"operation '(tf\.\w+)'", str(error))))
            ops = ops or sorted(set(re.findall(r"'(tf\.[A-Z]\w+)'", str(error))))
            detail = f" (unsupported: {', '.join(ops[:5])})" if ops else ""
            raise UsageError(f"--format litert: {name} cannot be converted to LiteRT"
                             f"{detail}; export it as --format saved_model instead") from None

    def fill(staging):
        for name, data in models.items():
            with open(os.path.join(staging, f"{name}.tflite"), "wb") as f:
                f.write(data)
        atomic_write_json(os.path.join(staging, "metadata.json"),
                          {"kind": kind, "project": PROJECT_VERSION, **(info or {}),
                           "models": sorted(f"{n}.tflite" for n in models)})

    return write_export_folder(export_dir, fill, {"kind": kind, "format": "litert"},
                               overwrite, run_dir)
