"""Bounded scans of the folders a user names (--image_dir, --data_dir).

A folder flag promises a data set, not the disk: without bounds, `--image_dir /`
walks the whole filesystem (/proc alone never ends) and trains on every
picture it meets. So every scan goes through `FolderScan`, which

- refuses a filesystem root, the top-level system folders (/usr, /etc, /proc,
  ...), anything under /proc, /sys or /dev, and the home folder itself;
- counts every entry it visits (files, folders, links, anything) and stops
  with one UsageError naming the cap once a scan passes `max_files` (the
  `--max_files` flag, common.cli.add_scan_limit_flag); since only visited
  files are read, the cap also bounds the images decoded;
- lists regular files only (a FIFO named `a.jpg` would block the reader), and
  never enters a symlinked folder below the folder it was asked to walk, so a
  link back up cannot make it loop.
"""

import os

from common.cli import UsageError

DEFAULT_MAX_FILES = 1_000_000
MAX_FILES_LIMIT = 100_000_000
# Folders that hold an operating system, not a data set (Linux and macOS).
SYSTEM_FOLDERS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64",
                  "/libx32", "/opt", "/proc", "/root", "/run", "/sbin", "/snap", "/sys", "/usr",
                  "/var", "/Applications", "/Library", "/System", "/Users", "/Volumes",
                  "/private")
# Virtual filesystems: nothing under them is a data set, and some files never end.
VIRTUAL_FOLDERS = ("/proc", "/sys", "/dev")


def system_folder_kind(folder):
    """'your home folder', 'a system folder', or None for a folder a scan may start at."""
    real = os.path.realpath(folder)
    if real == os.path.realpath(os.path.expanduser("~")):
        return "your home folder"
    system = set(SYSTEM_FOLDERS) | {os.path.realpath(name) for name in SYSTEM_FOLDERS}
    if (os.path.dirname(real) == real or real in system
            or any(real.startswith(name + os.sep) for name in VIRTUAL_FOLDERS)):
        return "a system folder"
    return None


def check_not_system(path, what):
    """UsageError if `path` is, or lies in, a system folder (/etc/run, /usr, /dev/x, and
    /etc/new/run, whose nearest existing folder is /etc): nothing this project writes
    belongs there, even when running as root allows it."""
    path = os.path.abspath(path)
    existing = os.path.dirname(path)
    while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)  # the folders that would be made lie in this
    for folder in (path, os.path.dirname(path), existing):
        if system_folder_kind(folder) == "a system folder":
            raise UsageError(f"{what} {path} lies in {os.path.realpath(folder)}, a system "
                             "folder; name a folder of your own, such as runs/NAME")


def check_scannable(folder, what="folder"):
    """UsageError unless `folder` is a folder that is neither a system folder nor the home."""
    if not os.path.isdir(folder):
        raise UsageError(f"{what} {folder} not found (or not a folder)")
    kind = system_folder_kind(folder)
    if kind:
        real = os.path.realpath(folder)
        shown = folder if real == os.path.abspath(folder) else f"{folder} ({real})"
        raise UsageError(f"{what} {shown} is {kind}, not a data set: scanning it would read "
                         "every file below it; name the folder that holds the data")


class FolderScan:
    """One scan of `root` and the folders below it, counted against `max_files` entries."""

    def __init__(self, root, max_files=DEFAULT_MAX_FILES, what="folder"):
        check_scannable(root, what)
        self.root, self.max_files, self.what = root, max_files, what
        self.visited = 0

    def entries(self, folder):
        """os.DirEntry of everything in `folder` (not below it), sorted by name."""
        found = []
        with os.scandir(folder) as listing:
            for entry in listing:
                self.visited += 1
                if self.visited > self.max_files:
                    raise UsageError(
                        f"{self.what} {self.root} holds more than {self.max_files:,} "
                        "files and folders (the --max_files cap); name a smaller folder, or "
                        f"raise --max_files (at most {MAX_FILES_LIMIT:,})")
                found.append(entry)
        return sorted(found, key=lambda entry: entry.name)

    def files(self, folder, keep=lambda name: True):
        """Sorted paths of the regular files under `folder` (recursive) whose names pass
        `keep`. `folder` itself may be a link; links to folders below it are not entered,
        and sub-folders that cannot be read are left out with a note."""
        check_scannable(folder, self.what)
        paths, pending, unreadable = [], [folder], []
        while pending:
            current = pending.pop()
            try:
                listing = self.entries(current)
            except (PermissionError, FileNotFoundError, NotADirectoryError):
                if current == folder:
                    raise
                unreadable.append(current)
                continue
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif keep(entry.name) and entry.is_file():
                    paths.append(entry.path)
        if unreadable:
            print(f"note: left out {len(unreadable)} folders that cannot be read (first: "
                  f"{unreadable[0]})")
        return sorted(paths)
