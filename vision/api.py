"""POST /v1/vision/{model}: PAI ModelHub-compatible bodies; bad input never becomes a 500."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from vision import compute
from vision.engine import VisionEngine
from vision.errors import BadRequest, ImageTooLarge, UnknownModel, VisionError
from vision.image import b64decode, data_url_bytes, decode_image
from vision.schemas import (
    MODELS,
    ForegroundRequest,
    ImageRequest,
    ShelfRequest,
    SimilarityRequest,
)

log = logging.getLogger(__name__)


def _parse(model: type[BaseModel], raw: bytes) -> Any:
    try:
        return model.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:  # JSONDecodeError and UnicodeError too
        fields = list(model.model_fields)
        raise BadRequest(f"body must be JSON with {fields}: {str(exc)[:300]}") from None


async def _body(request: Request, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise ImageTooLarge(f"request body is over {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _dispatch(engine: VisionEngine, model: str, raw: bytes) -> dict[str, Any]:
    s = engine.settings
    m = engine.models
    if model == "similarity":
        req = _parse(SimilarityRequest, raw)
        a = decode_image(b64decode(req.imagea, s), s)
        b = decode_image(b64decode(req.imageb, s), s)
        return await engine.run_http(compute.similar, m, a, b)
    if model == "foreground_segmentation":
        req = _parse(ForegroundRequest, raw)
        image = decode_image(data_url_bytes(req.input.url, s), s)
        return await engine.run_http(compute.foreground, m, image)
    if model == "shelf_count":
        req = _parse(ShelfRequest, raw)
        image = decode_image(b64decode(req.image, s), s)
        products = [(p.sku, decode_image(b64decode(p.image, s), s)) for p in req.products]
        return await engine.run_http(compute.shelf_count, m, image, products)
    req = _parse(ImageRequest, raw)
    image = decode_image(b64decode(req.image, s), s)
    fn = {
        "classification": compute.classification,
        "detection": compute.detection,
        "ocr": compute.ocr,
        "scene": compute.scene,
    }[model]
    return await engine.run_http(fn, m, image)


def build_router(engine: VisionEngine) -> APIRouter:
    router = APIRouter(tags=["vision"])
    # Similarity and shelf requests carry several images; base64 adds a third.
    cap = engine.settings.max_image_bytes * 4 // 3 * 3 + 64 * 1024

    @router.post("/v1/vision/{model}", summary="PAI ModelHub-compatible image models")
    async def vision_model(model: str, request: Request) -> JSONResponse:
        """Models: classification, detection, ocr, shelf_count, foreground_segmentation,
        scene, similarity. Request ``{"image": base64}`` (similarity ``{"imagea","imageb"}``,
        foreground ``{"input": {"url": "data:..."}}``); see the README for every field."""
        request_id = str(uuid.uuid4())
        try:
            if model not in MODELS:
                raise UnknownModel(f"unknown model {model!r}; known: {list(MODELS)}")
            raw = await _body(request, cap)
            body = await _dispatch(engine, model, raw)
            return JSONResponse({"request_id": request_id, "success": True, **body})
        except VisionError as exc:
            status, code, msg = exc.status, exc.error_code, exc.message
        except Exception:  # a model failure must still answer in the PAI shape
            log.exception("vision model %s failed", model)
            status, code, msg = 500, 500, "internal error running the model"
        return JSONResponse(
            {"request_id": request_id, "success": False, "error_code": code, "error_msg": msg},
            status_code=status,
        )

    return router
