"""Local processes (Linux /proc): descendants, process groups, killing and reaping; a free port."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def become_subreaper() -> None:
    """Orphans among our descendants become our children instead of init's (Linux 3.4+).

    So a process whose intermediate child died (a django-q2 sentinel) still finds, kills and reaps
    the workers that child left behind.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap(pids: list[int]) -> None:
    """Collect the exit status of those of `pids` that are our (killed) children."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _stat_fields(pid_dir: Path) -> list[str] | None:
    try:
        text = (pid_dir / "stat").read_text()
    except OSError:
        return None  # the process ended while we looked
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return text.rsplit(")", 1)[1].split()


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid → (parent pid, process group, state) for every live process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(entry)):
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def descendants(pid: int) -> list[int]:
    """Children, grandchildren and so on of `pid` that have not exited (zombies excluded)."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for child, (parent, _, state) in table.items():
        if state != "Z":
            children.setdefault(parent, []).append(child)
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def zombie_children(pid: int) -> list[int]:
    return [child for child, (parent, _, state) in _processes().items() if parent == pid and state == "Z"]


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group `pgid`."""
    return [pid for pid, (_, group, state) in _processes().items() if group == pgid and state != "Z"]


def kill_all(pids: list[int], signum: int = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def free_port(first: int = 8100, last: int = 8199) -> int:
    """A port on 127.0.0.1 in [first, last] nothing listens on (the range this machine gives us)."""
    for port in range(first, last + 1):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {first}-{last}")
