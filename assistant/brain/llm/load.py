"""Loading a GGUF model into llama.cpp without silencing the rest of the process."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Any

from assistant.brain.llm.base import LLMUnavailable
from assistant.brain.llm.settings import LLMSettings

_CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def load(settings: LLMSettings, model_path: Path, install_hint: str) -> tuple[Any, Any]:
    """The model and its chat formatter; raises LLMUnavailable naming the fix."""
    if not model_path.exists():
        raise LLMUnavailable(
            f"LLM model {model_path} is missing: run {install_hint}", retryable=False
        )
    try:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    except ImportError as exc:
        raise LLMUnavailable(
            "the llamacpp backend needs llama-cpp-python: pip install -e '.[llm]' "
            f"(CMAKE_ARGS=-DGGML_NATIVE=OFF) ({exc})",
            retryable=False,
        ) from exc
    # verbose=False points the whole process's stdout and stderr at /dev/null while the model
    # loads, which swallows every other thread's logs (the service's start-up included); keep the
    # descriptors and hide only llama.cpp's own load-time output.
    with contextlib.redirect_stderr(io.StringIO()):
        llama = Llama(
            model_path=str(model_path),
            n_ctx=settings.context,
            n_threads=settings.threads,
            n_threads_batch=settings.threads,
            n_batch=settings.batch,
            verbose=True,
        )
    llama.verbose = False
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    eos, bos = llama.token_eos(), llama.token_bos()
    # a base model (the Gemma fixture) has no template: ChatML is a neutral stand-in
    template = llama.metadata.get("tokenizer.chat_template") or _CHATML
    formatter = Jinja2ChatFormatter(
        template=template,
        eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
        bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
        stop_token_ids=[eos],
    )
    return llama, formatter
