"""The one way a verb writes a file: check the path before any work, then write it whole.

A verb that writes at a path the user chose (`--out` of generate,
interpolate, arithmetic, compare-optimizers and gradient-flow; the
`--classifier` cache of evaluate and arithmetic) calls `check_out_file`
first, before it loads a model or computes anything, so that a bad path is
one `error:` line with nothing done. Every file a verb writes, there or into
its own run (results.json, evaluate's plots, embeddings.npy and the
projector files, sample grids), is then written by `write_bytes` (or
`write_text`, `write_json`, `save_model`, and `common.plots.save_figure`
for figures): a staging file beside the target, renamed into place, so a
kill at any moment leaves the earlier file whole (common.files).

What `check_out_file` allows, and nothing else:
- the folder exists, or can be made (`make_folder`), and can be written;
- the target is new, or a regular file (never a folder, FIFO, socket or
  device): a PNG this project wrote and marked (`existing="own_png"`,
  replaced), or the verb's own input kept there (`existing="read"`: the
  cached scoring classifier, read and never replaced);
- it neither lies inside nor contains a run directory the verb only reads
  (`read_runs`). Files a verb is documented to write into its own run are
  not checked here: that run was checked whole when it was read.
"""

import json
import os

from common.cli import UsageError
from common.files import atomic_save_model, atomic_write_bytes, check_regular_file
from common.folders import system_folder_kind
from common.runs import check_outside_run

# The PNG text chunk that marks a file as written by this project: `--out`
# replaces an existing file only when it is a PNG with this mark.
SOFTWARE = "tfcourse"
EXISTING = ("own_png", "read")


def is_own_png(path):
    """Whether `path` is a PNG this project wrote (it carries the Software mark)."""
    from PIL import Image  # here, so that importing a command stays light

    try:
        with Image.open(path) as image:  # reads the header and early chunks only
            return image.format == "PNG" and image.info.get("Software") == SOFTWARE
    except Exception:  # not an image, truncated, a decompression bomb: not ours
        return False


def check_out_file(path, what="--out", *, read_runs=(), existing="own_png", make_folder=True):
    """UsageError unless the verb may write `path`; call it before any work starts.

    what: the flag, for the messages. read_runs: run directories the verb only
    reads. existing: what an existing file at `path` may be ("own_png" or
    "read", above). make_folder: whether missing folders above `path` are made
    (False: its folder must exist already).
    """
    if existing not in EXISTING:
        raise ValueError(f"existing must be one of {EXISTING}, not {existing!r}")
    if not path or not str(path).strip():
        kind = "PNG file" if existing == "own_png" else "file"
        raise UsageError(f"{what} is empty; name the {kind} to write")
    for run_dir in read_runs:
        check_outside_run(path, run_dir, what)
    if os.path.lexists(path):
        # os.stat, not lstat: a link is judged by what it leads to (a link to a
        # FIFO would block the PNG check's open).
        check_regular_file(path, f"{what} file")
        if existing == "own_png" and not is_own_png(path):
            raise UsageError(f"{what} {path} exists and is not a PNG written by this project; "
                             f"refusing to replace it (choose another {what} or move it)")
    _check_folder(path, what, make_folder)


def _check_folder(path, what, make_folder):
    """The folder `path` is written in exists (or its nearest existing folder above may
    hold new ones) and is writable."""
    folder = os.path.dirname(os.path.abspath(path))
    if make_folder:
        while not os.path.lexists(folder) and os.path.dirname(folder) != folder:
            folder = os.path.dirname(folder)  # the nearest part that exists
    if not os.path.isdir(folder):
        problem = "is not a folder" if os.path.lexists(folder) else "does not exist"
        raise UsageError(f"{what} {path}: {folder} {problem}")
    if system_folder_kind(folder) == "a system folder":  # /dev, /etc, /usr, ...: never ours
        raise UsageError(f"{what} {path} lies in {folder}, a system folder; name a folder of "
                         "your own")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path}: the folder {folder} is not writable")


def check_out_prefix(out, what="--out"):
    """UsageError for an --out that names no place for numbered PNGs: empty, or an
    existing device, FIFO or other non-folder, non-file (/dev/null would become
    /dev/null-1.png in /dev). Each path of `numbered_pngs` is then checked by
    `check_out_file`."""
    if not out.strip():
        raise UsageError(f"{what} is empty; name a folder or a PNG file prefix")
    if os.path.lexists(out) and not (os.path.isdir(out) or os.path.isfile(out)):
        raise UsageError(f"{what} {out} is neither a folder nor a regular file; name a folder "
                         "or a PNG file prefix")


def numbered_pngs(out, count, stem="attention"):
    """Where a verb's `--out OUT` writes `count` PNGs, one per input.

    A folder (existing, or written with a trailing /): OUT/stem-1.png ...;
    OUT.png for a single input; otherwise OUT-1.png, OUT-2.png ... (an OUT
    ending in .png loses it first). Numbers are zero-padded to sort.
    """
    digits = len(str(count))
    if os.path.isdir(out) or out.endswith(("/", os.sep)):
        return [os.path.join(out, f"{stem}-{i:0{digits}d}.png") for i in range(1, count + 1)]
    if out.lower().endswith(".png"):
        if count == 1:
            return [out]
        out = out[:-4]
    return [f"{out}-{i:0{digits}d}.png" for i in range(1, count + 1)]


def write_bytes(path, data):
    """`data` to `path` whole: a staging file beside it, fsync'd, renamed over it."""
    atomic_write_bytes(path, data)
    return path


def write_text(path, text):
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, value):
    """Indented UTF-8 JSON (non-ASCII kept as is), ending in a newline."""
    return write_text(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def save_model(model, path):
    """A .keras file (model.save to a staging file, then the rename)."""
    atomic_save_model(model, path)
    return path
