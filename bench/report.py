"""Writing benchmark results into docs/benchmarks.md, one section per benchmark."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path


def machine_summary() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"


def write_section(path: Path, title: str, body: str) -> None:
    """Replace (or append) the `## title` section of the file, keeping the others."""
    text = (
        path.read_text()
        if path.exists()
        else "# Benchmarks\n\nMeasured with `bench/`; each section says how.\n"
    )
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(lambda _: section + "\n", text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section
    )
    path.write_text(text.rstrip() + "\n")
