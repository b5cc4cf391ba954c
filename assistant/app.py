"""The app factory: create_app(settings) wires the runtime, routes and error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from assistant import api, pages, room_api, ws
from assistant.access import refused_unread
from assistant.connectors import api as connector_api
from assistant.errors import AssistantError
from assistant.runtime import Runtime
from assistant.safety import redact_server_logs
from assistant.settings import Settings


def _error(status: int, code: str, message: str, details: list[dict[str, object]]) -> JSONResponse:
    body = {"type": "error", "code": code, "message": message, "details": details}
    return JSONResponse(body, status_code=status)


def _with_body_schemas(app: FastAPI) -> None:
    """json_body routes declare their bodies by reference; the schemas are added here."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, model in api.BODY_MODELS.items():
                doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(doc.pop("$defs", {}))
                components[name] = doc
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact_server_logs()
        runtime = await Runtime.start(settings)
        app.state.runtime = runtime
        for capability in runtime.capabilities:
            router = capability.router()
            if router is not None:
                app.include_router(router)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Live-commerce assistant",
        version="0.1.0",
        lifespan=lifespan,
        description="Rooms, chat triage, grounded answers, vision, recommendations and TTS.",
    )

    @app.exception_handler(AssistantError)
    async def assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        return refused_unread(request, _error(exc.status, exc.code, exc.message, exc.details))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details: list[dict[str, object]] = [
            {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", ""))}
            for err in exc.errors()
        ]
        return _error(422, "bad_input", "request failed validation", details)

    app.include_router(api.router)
    app.include_router(room_api.router)
    app.include_router(connector_api.router)
    app.include_router(ws.router)
    pages.mount(app)
    _with_body_schemas(app)
    return app
