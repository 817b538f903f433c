"""Where a secret file may be, and who else may read it.

A systemd credential is a file name inside `$CREDENTIALS_DIRECTORY`, never a
path: LoadCredential= "takes a textual ID to use as name for a credential", read
as `${CREDENTIALS_DIRECTORY}/<ID>`
(https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#Credentials).
A `{ file = ... }` secret that group or others can read still works, with a
warning naming the file (never its content), once per file and process.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

log = logging.getLogger("syncd.config")

_warned: set[Path] = set()
_warned_lock = threading.Lock()


def credential_name_problem(name: str) -> str | None:
    """Why `name` cannot name a credential (a path, `..`, a control character), or None."""
    if not name or name in (".", ".."):
        return f"credential name '{name}' is not a file name"
    if "/" in name or "\\" in name or "\0" in name:
        return (
            f"credential name '{name}' is a path; name a file in $CREDENTIALS_DIRECTORY "
            '(the ID of LoadCredential=ID:PATH), or use { file = "/path" }'
        )
    if not name.isprintable():
        return f"credential name {name!r} holds control characters"
    return None


def credential_path(directory: str, name: str) -> Path:
    """The credential's file, which must stay inside `directory` (symlinks resolved)."""
    problem = credential_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    root = Path(directory).resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise ValueError(
            f"credential '{name}' resolves to {path}, outside $CREDENTIALS_DIRECTORY ({root})"
        )
    return path


def warn_if_shared(path: Path) -> None:
    """Log a WARNING (once per file) when group or others may read or change `path`."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return  # reading it reports the problem
    if not mode & 0o077:
        return
    with _warned_lock:
        if path in _warned:
            return
        _warned.add(path)
    log.warning(
        "secret file %s is readable or writable by group or others (mode %04o); "
        "make it readable by syncd's user only: chmod 600 %s",
        path,
        mode,
        path,
    )
