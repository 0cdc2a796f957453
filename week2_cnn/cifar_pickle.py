"""Reading the official CIFAR-10 Python batches without trusting them.

`pickle.load` runs whatever a pickle names: a crafted `data_batch_1` in
--data_dir could call `os.system`. CIFAR-10's batches only ever hold dicts,
lists, bytes, str, ints and floats, and numpy arrays, so `load_batch_pickle`
uses an unpickler that knows exactly the globals a numpy array's pickle names
(looked up by exact module and name, for numpy 1's `numpy.core` and numpy 2's
`numpy._core` spellings) and refuses every other one before looking it up.
Even those are wrapped: arrays start empty (their data comes from the file, so
a pickle cannot ask for a huge allocation) and object or structured dtypes,
which would let a pickle hide arbitrary objects inside an array, are refused.
"""

import io
import pickle

import numpy as np

from common.cli import UsageError
from common.files import read_bytes

# numpy's own reconstruction functions, taken from what numpy itself pickles,
# so that they are right for the installed numpy (1.x or 2.x).
_RECONSTRUCT = np.zeros(0).__reduce__()[0]
_FROMBUFFER = np.zeros(1, np.uint8).__reduce_ex__(5)[0]
_SCALAR = np.uint8(0).__reduce__()[0]


class RefusedPickle(pickle.UnpicklingError):
    """The pickle names something a CIFAR-10 batch never contains."""


class _ArrayClass:
    """Stands for numpy.ndarray: usable only as _reconstruct's first argument, not callable."""


def _plain_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise RefusedPickle(f"it holds an array of dtype {dtype}, which a CIFAR-10 batch "
                            "never does")
    return dtype


def _dtype(*args):
    return _plain_dtype(np.dtype(*args))


def _empty_array(subtype, shape, typecode):
    # numpy pickles every array as _reconstruct(ndarray, (0,), b'b') + its state.
    if subtype is not _ArrayClass or tuple(shape) != (0,):
        raise RefusedPickle("it reconstructs an array in a way numpy never pickles one")
    return _RECONSTRUCT(np.ndarray, (0,), typecode)


def _frombuffer(buffer, dtype, shape, order):
    return _FROMBUFFER(buffer, _plain_dtype(dtype), shape, order)


def _scalar(dtype, data=None):
    return _SCALAR(_plain_dtype(dtype), data) if data is not None else _SCALAR(dtype)


def _latin1_encode(text, encoding="latin1"):
    # How Python 3 pickles bytes at protocols 0-2: _codecs.encode(str, "latin1").
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise RefusedPickle(f"it encodes text as {encoding!r}, which a CIFAR-10 batch never "
                            "does")
    return text.encode("latin1")


_ALLOWED = {
    ("numpy", "ndarray"): _ArrayClass,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _latin1_encode,
}
for _module in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_module}.multiarray", "_reconstruct")] = _empty_array
    _ALLOWED[(f"{_module}.multiarray", "scalar")] = _scalar
    _ALLOWED[(f"{_module}.numeric", "_frombuffer")] = _frombuffer


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise RefusedPickle(f"it names {module}.{name}, which a CIFAR-10 batch never "
                                "does; refusing to run it") from None


def _check_plain(value, depth=0):
    """Raises RefusedPickle unless `value` is built of dicts, lists, bytes, str, numbers, arrays."""
    if depth > 8:
        raise RefusedPickle("it nests deeper than a CIFAR-10 batch does")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, depth + 1)
            _check_plain(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_plain(item, depth + 1)
    elif isinstance(value, np.ndarray):
        _plain_dtype(value.dtype)
    elif not isinstance(value, (bytes, bytearray, str, int, float, np.generic, type(None))):
        raise RefusedPickle(f"it holds a {type(value).__name__}, which a CIFAR-10 batch never "
                            "does")


def load_batch_pickle(data):
    """The object pickled in `data` (bytes), allowing only what a CIFAR-10 batch holds.

    Raises RefusedPickle for anything else, pickle.UnpicklingError, EOFError and
    the like for a truncated or corrupt file.
    """
    # encoding="bytes": the official batches were written by Python 2.
    value = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    _check_plain(value)
    return value


def read_pickle_file(path, what):
    """The allow-listed contents of a pickle file; UsageError naming it if it is not one."""
    data = read_bytes(path, what)
    try:
        return load_batch_pickle(data)
    except RefusedPickle as error:
        raise UsageError(f"{path} is not a readable {what} ({error})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, OverflowError, MemoryError) as error:
        detail = " ".join(str(error).split())[:120] or type(error).__name__
        raise UsageError(f"{path} is not a readable {what} (truncated or corrupt: "
                         f"{detail})") from None
