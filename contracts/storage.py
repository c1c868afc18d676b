"""A location that is a local path or an object-storage URI (gs://), and what the pipeline does with one.

Every location the pipeline writes or reads outside a component's own
library calls (pipeline root, serving directory, data root, decision
records) may be either, so it is kept as a string (pathlib turns `gs://b`
into `gs:/b`) and opened through TFX's file I/O, which hands a URI to
TensorFlow's file system for it. `open()`, `os`, `shutil` and `glob` would
silently write a local folder named `gs:`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator


def is_uri(location: str) -> bool:
    """True for an object-storage URI (gs://...), False for a local path."""
    return "://" in str(location)


def join(location: str, *parts: str) -> str:
    return os.path.join(str(location), *parts)


def name(location: str) -> str:
    """The last part: `gs://b/serving/17/` -> `17`."""
    return os.path.basename(str(location).rstrip("/"))


def parent(location: str) -> str:
    return os.path.dirname(str(location).rstrip("/"))


def _fileio():
    from tfx.dsl.io import fileio

    return fileio


def exists(location: str) -> bool:
    return _fileio().exists(str(location))


def is_dir(location: str) -> bool:
    return _fileio().isdir(str(location))


def list_names(directory: str) -> list[str]:
    """The names in a folder, sorted (object stores list sub-folders with a trailing slash: dropped)."""
    return sorted(entry.rstrip("/") for entry in _fileio().listdir(str(directory)))


def makedirs(location: str) -> None:
    _fileio().makedirs(str(location))


def glob(pattern: str) -> list[str]:
    return sorted(_fileio().glob(str(pattern)))


def read_bytes(location: str) -> bytes:
    with _fileio().open(str(location), "rb") as handle:
        return handle.read()


def read_text(location: str) -> str:
    with _fileio().open(str(location), "r") as handle:
        return handle.read()


def write_text(location: str, text: str) -> None:
    makedirs(parent(location))
    with _fileio().open(str(location), "w") as handle:
        handle.write(text)


def append_line(location: str, line: str) -> None:
    """Object stores cannot append: the file is read and written again (one writer at a time)."""
    before = read_text(location) if exists(location) else ""
    write_text(location, before + line.rstrip("\n") + "\n")


def files_under(directory: str) -> Iterator[str]:
    """Each file's path relative to `directory`, sorted."""
    found = []
    for folder, _, files in _fileio().walk(str(directory)):
        relative = os.path.relpath(str(folder).rstrip("/"), str(directory).rstrip("/"))
        found += [os.path.normpath(os.path.join(relative, f.rstrip("/"))) for f in files]
    return iter(sorted(found))


def copy_tree(source: str, destination: str, last: tuple[str, ...] = ()) -> None:
    """Copies every file under `source` to `destination`; the relative paths in `last` after the others
    (a model server that polls an object store loads a version once its saved_model.pb is there)."""
    fileio = _fileio()
    relative = list(files_under(source))
    for path in sorted(relative, key=lambda p: p in last):
        target = join(destination, path)
        fileio.makedirs(parent(target))
        fileio.copy(join(source, path), target, overwrite=True)


def rename(source: str, destination: str) -> None:
    """A rename: atomic on a local file system; on an object store each object is copied, then deleted."""
    _fileio().rename(str(source), str(destination), overwrite=False)


def remove_tree(location: str) -> None:
    if exists(location):
        _fileio().rmtree(str(location))
