"""Files this project reads and writes, handled so that nothing is ever lost.

- Writes go to a staging file named `.tmp-<pid>-<name>` beside the target and
  are renamed into place, so a process killed at any moment (even SIGKILL)
  leaves the previous file whole. The prefix is how a later start recognises
  (and removes) staging files that a killed process left behind.
- Staged files get the user's normal permissions (umask), not mkstemp's 0600.
- Reads of user input refuse anything that is not a regular file (a FIFO
  would block forever, a device would never end) and stop at a size limit.
- A path read from a run directory must resolve inside that directory.
"""

import json
import os
import stat

from common.cli import UsageError

STAGING_PREFIX = ".tmp-"
# The largest input file read without a flag that raises the limit.
DEFAULT_MAX_BYTES = 2 * 1024 ** 3


def _user_mode():
    """0o666 less the process umask: the mode open() would give a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def staging_path(path):
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f"{STAGING_PREFIX}{os.getpid()}-{name}")


def atomic_write_bytes(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = staging_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _user_mode())
        os.replace(tmp, path)
    except BaseException:
        remove_if_exists(tmp)
        raise


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, data):
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def atomic_save_model(model, path):
    """model.save() to a staging file (keeping the .keras suffix), then rename over `path`."""
    tmp = staging_path(path)
    try:
        model.save(tmp)
        os.chmod(tmp, _user_mode())
        os.replace(tmp, path)
    except BaseException:
        remove_if_exists(tmp)
        raise


def remove_if_exists(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def remove_own_staging_files(directory):
    """Removes `.tmp-<pid>-*` files left in `directory` by processes that are gone."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        if not name.startswith(STAGING_PREFIX):
            continue
        pid = name[len(STAGING_PREFIX):].split("-", 1)[0]
        path = os.path.join(directory, name)
        if pid.isdigit() and not process_alive(int(pid)) and os.path.isfile(path):
            remove_if_exists(path)


def process_alive(pid):
    """Whether process `pid` runs on this machine (True when that cannot be told)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_regular_file(path, what="file"):
    """UsageError unless `path` is an existing regular file (not a folder, FIFO, device)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UsageError(f"{what} not found: {path}") from None
    except OSError as error:
        raise UsageError(f"cannot read {what} {path}: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"expected a {what}, got a directory: {path}")
    if not stat.S_ISREG(mode):
        raise UsageError(f"expected a regular {what}, got a FIFO, socket or device: {path}")


def read_bytes(path, what="file", max_bytes=DEFAULT_MAX_BYTES):
    """The bytes of a regular file of at most `max_bytes`; UsageError otherwise."""
    check_regular_file(path, what)
    size = os.path.getsize(path)
    if size > max_bytes:
        raise UsageError(f"{path} is {size:,} bytes, more than the limit of {max_bytes:,}; "
                         "raise it with --max_bytes if this is really the input")
    try:
        with open(path, "rb") as f:
            return f.read(max_bytes + 1)
    except OSError as error:
        raise UsageError(f"cannot read {what} {path}: {error.strerror}") from None


# No JSON file this project writes nests deeper than a few levels (state.json:
# state -> history -> row); a deeper one was not written by it.
MAX_JSON_DEPTH = 32


def read_json_file(path, what=None):
    """A JSON file of this project; UsageError naming the file if it is unreadable."""
    what = what or os.path.basename(path)
    data = read_bytes(path, what, max_bytes=512 * 1024 ** 2)
    too_deep = UsageError(f"{path} nests more than {MAX_JSON_DEPTH} levels deep, so this "
                          "project did not write it; restore it or start a new run")
    try:
        value = json.loads(data.decode("utf-8"))
    except ValueError:  # not UTF-8, not JSON, or a number of more than 4,300 digits
        raise UsageError(f"{path} is corrupt or truncated (not valid JSON); "
                         "restore it or start a new run") from None
    except RecursionError:  # thousands of nested brackets
        raise too_deep from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise too_deep
    return value


def json_depth(value):
    """How deeply lists and dicts nest in a parsed JSON value (a number or string: 0)."""
    depth, level = 0, [value]
    while True:
        containers = [item for item in level if isinstance(item, (list, dict))]
        if not containers:
            return depth
        depth += 1
        level = [child for item in containers
                 for child in (item.values() if isinstance(item, dict) else item)]


def inside(directory, relative, what="path"):
    """`directory/relative`, refusing a path that resolves outside `directory`.

    Paths stored in a run directory's files are untrusted: "../victim" or an
    absolute path would make a resume read (or later remove) another file.
    """
    if not isinstance(relative, str) or not relative or os.path.isabs(relative):
        raise UsageError(f"{what} {relative!r} in {directory} is not a path inside the "
                         "run directory; the run directory was edited or is not this "
                         "project's")
    root = os.path.realpath(directory)
    path = os.path.realpath(os.path.join(root, relative))
    if os.path.commonpath([root, path]) != root or path == root:
        raise UsageError(f"{what} {relative!r} in {directory} points outside the run "
                         "directory; refusing to use it")
    return path


def contains(outer, inner):
    """Whether path `inner` is `outer` or lies somewhere below it."""
    outer, inner = os.path.realpath(outer), os.path.realpath(inner)
    return os.path.commonpath([outer, inner]) == outer
