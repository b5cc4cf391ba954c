"""Who may call and how often: bearer tokens, constant-time secrets, limits counted by source."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import Counter
from typing import TypeVar

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import ConnectionPool
from starlette.requests import Request
from starlette.responses import Response

from assistant.errors import AssistantError, Forbidden, TooLarge, Unauthorized
from assistant.events import Role
from assistant.settings import LimitSettings
from assistant.store import Store

R = TypeVar("R", bound=Response)


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


async def room_role(store: Store, room_id: str, token: str | None) -> Role:
    """The caller's role in a room. An unknown room is refused like a bad token, so room ids
    cannot be probed for."""
    role = await store.role_for(room_id, token) if token else None
    if role is None:
        raise Unauthorized("missing or invalid room token")
    return role


def host_role(role: Role) -> Role:
    if role != "host":
        raise Forbidden("only the room's host may do this")
    return role


def same_secret(given: str | None, secret: str) -> bool:
    """Constant-time; a token with non-ASCII characters is a wrong token, not an error."""
    return given is not None and hmac.compare_digest(given.encode(), secret.encode())


async def read_body(
    request: Request, limit: int, what: str, too_large: type[AssistantError] = TooLarge
) -> bytes:
    """The raw request body, refused by its declared length or as soon as it passes ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(f"{what} larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise too_large(f"{what} larger than {limit} bytes")
    return bytes(body)


def refused_unread(request: Request, response: R) -> R:
    """A caller refused for who it is (401, 403) gets the connection closed with its answer:
    keeping it alive would make the server read and throw away the rest of an unwanted upload.
    A too-large or rate-limited upload keeps it, so an honest client reads its 413 or 429."""
    if response.status_code in (401, 403) and request.method in ("POST", "PUT"):
        response.headers["Connection"] = "close"
    return response


class Sessions:
    """Signed viewer sessions: the server names each viewer, and only it can vouch for a name.

    A session is ``<user id>.<signature>``, the signature an HMAC of the room and the id under
    a secret every instance shares, so a viewer keeps its id across reconnects and instances
    but can never take another's.
    """

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"lca-viewer-session\n" + secret.encode()).digest()

    def _sign(self, room_id: str, user_id: str) -> str:
        mac = hmac.new(self._key, f"{room_id}\n{user_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode()

    def issue(self, room_id: str) -> tuple[str, str]:
        """A new viewer id and its session."""
        user_id = "v-" + secrets.token_urlsafe(9)
        return user_id, f"{user_id}.{self._sign(room_id, user_id)}"

    def verify(self, room_id: str, session: str | None) -> str | None:
        """The viewer id a session vouches for in this room, or None."""
        user_id, _, signature = (session or "").rpartition(".")
        if not user_id or not same_secret(signature, self._sign(room_id, user_id)):
            return None
        return user_id


class Limiter:
    """Rate limits by named source key, in memory or counted across instances in Redis."""

    def __init__(self, settings: LimitSettings, redis_url: str) -> None:
        self.settings = settings
        self._pool: ConnectionPool | None = None
        storage: Storage
        if settings.storage == "redis":
            url = settings.redis_url or redis_url
            # Our own pool, so that close() can release the connections limits would keep.
            self._pool = ConnectionPool.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            storage = RedisStorage(
                "async+" + url,
                implementation="redispy",
                key_prefix="lca-limits",
                connection_pool=self._pool,  # type: ignore[arg-type]
            )
        else:
            storage = MemoryStorage()
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._items: dict[str, list[RateLimitItem]] = {}
        self._connections: Counter[tuple[str, str]] = Counter()

    async def allow(self, limit: str, *key: str) -> bool:
        """Count one hit against every window of ``limit`` ("20/minute;5/second") for ``key``."""
        items = self._items.get(limit)
        if items is None:
            items = self._items[limit] = parse_many(limit)
        allowed = True
        for item in items:
            allowed = await self._limiter.hit(item, *key) and allowed
        return allowed

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    def connect(self, address: str, room_id: str) -> str | None:
        """Take a connection slot for ``address`` in ``room_id``; the cap it hit, if any."""
        if self._connections["address", address] >= self.settings.connections_per_address:
            return "too many connections from this address"
        if self._connections["room", room_id] >= self.settings.connections_per_room:
            return "the room is full"
        self._connections["address", address] += 1
        self._connections["room", room_id] += 1
        return None

    def disconnect(self, address: str, room_id: str) -> None:
        for key in (("address", address), ("room", room_id)):
            self._connections[key] -= 1
            if self._connections[key] <= 0:
                del self._connections[key]
