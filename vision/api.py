"""POST /v1/vision/{model}: PAI ModelHub-compatible bodies; bad input never becomes a 500."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from assistant.access import Limiter, bearer, read_body, refused_unread, same_secret
from assistant.store import Store, hash_token
from vision import compute
from vision.engine import VisionEngine
from vision.errors import (
    BadRequest,
    ImageTooLarge,
    TooManyRequests,
    Unauthorized,
    UnknownModel,
    VisionError,
)
from vision.image import b64decode, data_url_bytes, decode_image
from vision.schemas import (
    MODELS,
    ForegroundRequest,
    ImageRequest,
    ShelfRequest,
    SimilarityRequest,
)
from vision.settings import VisionSettings

log = logging.getLogger(__name__)


class VisionAccess:
    """Who may call the vision API: the service token, any room's host token, or anyone when
    ``anonymous`` is on; each caller within ``limits.vision_per_token``."""

    def __init__(self, settings: VisionSettings, store: Store, limiter: Limiter) -> None:
        self.settings = settings
        self.store = store
        self.limiter = limiter

    async def check(self, request: Request) -> None:
        token = bearer(request.headers.get("authorization"))
        service = self.settings.api_token
        if token and service is not None and same_secret(token, service.get_secret_value()):
            key = "service"
        elif token and await self.store.is_host_token(token):
            key = "host:" + hash_token(token)[:16]
        elif token is None and self.settings.anonymous:
            key = "anonymous:" + (request.client.host if request.client else "-")
        else:
            raise Unauthorized("a bearer token is required: the service token or a host token")
        if not await self.limiter.allow(self.limiter.settings.vision_per_token, "vision", key):
            raise TooManyRequests("too many vision requests; slow down")


def _parse(model: type[BaseModel], raw: bytes) -> Any:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        fields = list(model.model_fields)
        raise BadRequest(f"body must be JSON with {fields}: {str(exc)[:300]}") from None


def _dispatch(engine: VisionEngine, model: str, raw: bytes) -> dict[str, Any]:
    """Parse, decode and run one request; called in the engine's pool, never on the loop."""
    s = engine.settings
    m = engine.models
    if model == "similarity":
        req = _parse(SimilarityRequest, raw)
        a = decode_image(b64decode(req.imagea, s), s)
        b = decode_image(b64decode(req.imageb, s), s)
        return compute.similar(m, a, b)
    if model == "foreground_segmentation":
        req = _parse(ForegroundRequest, raw)
        return compute.foreground(m, decode_image(data_url_bytes(req.input.url, s), s))
    if model == "shelf_count":
        req = _parse(ShelfRequest, raw)
        if 1 + len(req.products) > s.max_images_per_request:
            raise ImageTooLarge(f"at most {s.max_images_per_request} images per request")
        image = decode_image(b64decode(req.image, s), s)
        products = [(p.sku, decode_image(b64decode(p.image, s), s)) for p in req.products]
        return compute.shelf_count(m, image, products)
    req = _parse(ImageRequest, raw)
    image = decode_image(b64decode(req.image, s), s)
    fn = {
        "classification": compute.classification,
        "detection": compute.detection,
        "ocr": compute.ocr,
        "scene": compute.scene,
    }[model]
    result: dict[str, Any] = fn(m, image)
    return result


def build_router(engine: VisionEngine, access: VisionAccess) -> APIRouter:
    router = APIRouter(tags=["vision"])
    # A request carries up to max_images_per_request images; base64 adds a third.
    s = engine.settings
    cap = s.max_image_bytes * 4 // 3 * s.max_images_per_request + 64 * 1024

    @router.post("/v1/vision/{model}", summary="PAI ModelHub-compatible image models")
    async def vision_model(model: str, request: Request) -> JSONResponse:
        """Models: classification, detection, ocr, shelf_count, foreground_segmentation,
        scene, similarity. Request ``{"image": base64}`` (similarity ``{"imagea","imageb"}``,
        foreground ``{"input": {"url": "data:..."}}``); see the README for every field."""
        request_id = str(uuid.uuid4())
        try:
            await access.check(request)
            if model not in MODELS:
                raise UnknownModel(f"unknown model {model!r}; known: {list(MODELS)}")
            raw = await read_body(request, cap, "request body", ImageTooLarge)
            body = await engine.run_http(_dispatch, engine, model, raw)
            return JSONResponse({"request_id": request_id, "success": True, **body})
        except VisionError as exc:
            status, code, msg = exc.status, exc.error_code, exc.message
        except Exception:  # a model failure must still answer in the PAI shape
            log.exception("vision model %s failed", model)
            status, code, msg = 500, 500, "internal error running the model"
        failed = JSONResponse(
            {"request_id": request_id, "success": False, "error_code": code, "error_msg": msg},
            status_code=status,
        )
        return refused_unread(request, failed)

    return router
