"""Finding a process's descendants and a process group's members from /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


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


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group `pgid`."""
    return [pid for pid, (_, group, state) in _processes().items() if group == pgid and state != "Z"]


def kill_all(pids: list[int], signum: int = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
