"""The Twitch connector against a fake EventSub socket and a fake Helix on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import SecretStr

from assistant.connectors.base import (
    Connector,
    ConnectorError,
    PlatformMessage,
    PlatformUser,
    Replier,
)
from assistant.connectors.specs import TwitchSpec
from assistant.connectors.twitch import TwitchConnector
from tests.fakes.connector_sink import RecordingSink
from tests.fakes.twitch_server import (
    FakeTwitch,
    Session,
    chat,
    envelope,
    fake_twitch,
    notification,
)


def spec(fake: FakeTwitch, **overrides: Any) -> TwitchSpec:
    base: dict[str, Any] = {
        "client_id": "client-1",
        "access_token": SecretStr("token-1"),
        "broadcaster_id": "1001",
        "bot_user_id": "2002",
        "eventsub_url": fake.eventsub_url,
        "api_base": fake.api_base,
    }
    return TwitchSpec.model_validate(base | overrides)


@asynccontextmanager
async def running(
    fake: FakeTwitch, sink: RecordingSink, keepalive_s: int = 10
) -> AsyncIterator[tuple[asyncio.Task[None], Session]]:
    """The connector running against ``fake``, welcomed and subscribed; cancelled on exit."""
    task = asyncio.create_task(TwitchConnector(spec(fake)).run(sink))
    session = await fake.next_session()
    await session.welcome(keepalive_s)
    await sink.until(lambda: bool(sink.connects))
    try:
        yield task, session
    finally:
        task.cancel()
        with pytest.raises((asyncio.CancelledError, ConnectorError)):
            await task


async def failure(task: asyncio.Task[None]) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        async with asyncio.timeout(10):
            await task
    return caught.value


def texts(sink: RecordingSink) -> list[str]:
    return [message.text for message in sink.messages]


async def test_is_a_connector_and_a_replier() -> None:
    async with fake_twitch() as fake:
        connector = TwitchConnector(spec(fake))
        assert isinstance(connector, Connector) and isinstance(connector, Replier)


async def test_welcome_subscribes_with_the_session_id_and_conditions() -> None:
    sink = RecordingSink()
    async with fake_twitch() as fake, running(fake, sink) as (_, session):
        assert sink.connects == [f"EventSub session {session.id}"]
        kinds = [(body["type"], body["version"]) for body in fake.subscriptions]
        assert kinds == [
            ("channel.chat.message", "1"),
            ("channel.follow", "2"),
            ("channel.cheer", "1"),
        ]
        chat_sub, follow_sub, _ = fake.subscriptions
        assert chat_sub["condition"] == {"broadcaster_user_id": "1001", "user_id": "2002"}
        assert follow_sub["condition"] == {
            "broadcaster_user_id": "1001",
            "moderator_user_id": "2002",
        }
        for body in fake.subscriptions:
            assert body["transport"] == {"method": "websocket", "session_id": session.id}
        assert fake.headers[0]["authorization"] == "Bearer token-1"
        assert fake.headers[0]["client-id"] == "client-1"


async def test_chat_arrives_once_with_its_ids_and_time() -> None:
    sink = RecordingSink()
    async with fake_twitch() as fake, running(fake, sink) as (_, session):
        first = chat("how much is the 保温杯? 😀", message_id="c1", user_id="42", name="小王")
        await session.send(first)
        await session.send(first)  # Twitch resends with the same metadata.message_id
        await session.send(chat("my own answer", message_id="c2", user_id="2002"))
        await session.send(chat("second", message_id="c3"))
        await sink.until(lambda: len(sink.messages) >= 2)
        assert texts(sink) == ["how much is the 保温杯? 😀", "second"]
        message = sink.messages[0]
        assert (message.id, message.user) == ("c1", PlatformUser(id="42", name="小王"))
        assert message.sent_at == pytest.approx(1714564800.123456)


async def test_follows_and_cheers_become_activities() -> None:
    sink = RecordingSink()
    async with fake_twitch() as fake, running(fake, sink) as (_, session):
        follow = {"user_id": "7", "user_login": "fan", "user_name": "Fan", "followed_at": "x"}
        await session.send(notification("channel.follow", follow, message_id="f1"))
        cheer = {"is_anonymous": False, "user_id": "8", "user_name": "Rich", "bits": 250}
        await session.send(notification("channel.cheer", cheer, message_id="g1"))
        hidden = {"is_anonymous": True, "user_id": None, "user_name": None, "bits": 5}
        await session.send(notification("channel.cheer", hidden, message_id="g2"))
        await sink.until(lambda: len(sink.activities) >= 3)
        followed, cheered, anonymous = sink.activities
        assert (followed.id, followed.kind, followed.user.name) == ("f1", "follow", "Fan")
        assert (cheered.kind, cheered.count, cheered.value, cheered.item) == (
            "gift",
            250,
            250,
            "bits",
        )
        assert (anonymous.user.id, anonymous.count) == ("anonymous", 5)


async def test_a_refused_optional_subscription_is_not_fatal() -> None:
    sink = RecordingSink()
    async with fake_twitch() as fake, running(fake, sink) as (task, session):
        assert fake.status_for["channel.cheer"] == 403
        assert sink.connects and not task.done()
        await session.send(chat("still here", message_id="c1"))
        await sink.until(lambda: len(sink.messages) >= 1)


async def test_malformed_frames_are_dropped_and_reading_goes_on() -> None:
    sink = RecordingSink()
    async with fake_twitch() as fake, running(fake, sink) as (task, session):
        await session.send("{not json")
        await session.send('{"metadata": {"message_type": "notification"}}')
        await session.send(notification("channel.chat.message", {"chatter_user_id": "1"}))
        await session.send(chat("after the junk", message_id="c1"))
        await sink.until(lambda: len(sink.messages) >= 1)
        assert sink.drops == ["malformed", "malformed", "malformed"]
        assert texts(sink) == ["after the junk"] and not task.done()


async def test_silence_past_the_keepalive_is_a_retryable_error() -> None:
    sink = RecordingSink()
    async with fake_twitch() as fake, running(fake, sink, keepalive_s=1) as (task, _):
        started = time.monotonic()
        error = await failure(task)
        assert error.retryable and "sent nothing" in error.message
        assert 1.0 <= time.monotonic() - started < 5


async def test_a_closed_socket_is_a_retryable_error() -> None:
    sink = RecordingSink()
    async with fake_twitch() as fake, running(fake, sink) as (task, session):
        await session.ws.close(code=4000, reason="internal server error")
        error = await failure(task)
        assert error.retryable and "4000" in error.message


async def test_session_reconnect_moves_without_loss_or_resubscribing() -> None:
    sink = RecordingSink()
    async with fake_twitch() as fake, running(fake, sink) as (task, old):
        await old.send(chat("before", message_id="c1"))
        await old.reconnect(fake.eventsub_url.replace("/ws", "/moved"))
        new = await fake.next_session()
        # Twitch goes on sending on the old socket until the new one is welcomed
        await old.send(chat("during", message_id="c2"))
        await sink.until(lambda: len(sink.messages) >= 2)
        await new.welcome()
        await new.send(chat("after", message_id="c3"))
        await sink.until(lambda: len(sink.messages) >= 3)
        async with asyncio.timeout(5):
            await old.ws.wait_closed()
        assert texts(sink) == ["before", "during", "after"]
        assert len(fake.subscriptions) == 3 and len(sink.connects) == 1
        assert new.ws.request is not None and new.ws.request.path == "/moved"
        assert not task.done()


@pytest.mark.parametrize("status", ["authorization_revoked", "user_removed"])
async def test_revocation_is_permanent(status: str) -> None:
    sink = RecordingSink()
    async with fake_twitch() as fake, running(fake, sink) as (task, session):
        subscription = {"id": "s", "type": "channel.chat.message", "status": status}
        await session.send(envelope("revocation", {"subscription": subscription}))
        error = await failure(task)
        assert not error.retryable and status in error.message


async def test_a_refused_token_is_permanent() -> None:
    sink = RecordingSink()
    async with fake_twitch() as fake:
        fake.status_for["channel.chat.message"] = 401
        task = asyncio.create_task(TwitchConnector(spec(fake)).run(sink))
        await (await fake.next_session()).welcome()
        error = await failure(task)
        assert not error.retryable and "401" in error.message
        assert sink.connects == []


async def test_reply_posts_in_reply_to_the_viewer() -> None:
    async with fake_twitch() as fake:
        connector = TwitchConnector(spec(fake, post_answers=True, reply_interval_s=0.5))
        asked = PlatformMessage(id="c9", user=PlatformUser(id="42", name="小王"), text="多少钱?")
        assert await connector.reply("  99 元 ", asked) is True
        assert await connector.reply("x" * 600, None) is True
        first, second = fake.posted
        assert first == {
            "broadcaster_id": "1001",
            "sender_id": "2002",
            "message": "99 元",
            "reply_parent_message_id": "c9",
        }
        assert "reply_parent_message_id" not in second
        assert len(second["message"]) == 500 and second["message"].endswith("…")
        assert fake.headers[0]["authorization"] == "Bearer token-1"


async def test_reply_waits_for_its_slot() -> None:
    async with fake_twitch() as fake:
        connector = TwitchConnector(spec(fake, post_answers=True, reply_interval_s=0.5))
        started = time.monotonic()
        posted = await asyncio.gather(*(connector.reply(f"a{i}", None) for i in range(3)))
        assert posted == [True, True, True]
        assert time.monotonic() - started >= 0.95  # three slots, half a second apart
        assert [body["message"] for body in fake.posted] == ["a0", "a1", "a2"]


async def test_reply_drops_when_the_slot_is_too_far() -> None:
    async with fake_twitch() as fake:
        connector = TwitchConnector(spec(fake, post_answers=True, reply_interval_s=60))
        assert await connector.reply("first", None) is True
        started = time.monotonic()
        assert await connector.reply("second", None) is False
        assert time.monotonic() - started < 1 and len(fake.posted) == 1


async def test_reply_false_when_twitch_drops_it_or_posting_is_off() -> None:
    async with fake_twitch() as fake:
        fake.drop_reason = {"code": "msg_duplicate", "message": "duplicate"}
        assert await TwitchConnector(spec(fake, post_answers=True)).reply("hi", None) is False
        assert len(fake.posted) == 1
        assert await TwitchConnector(spec(fake)).reply("hi", None) is False
        assert len(fake.posted) == 1
