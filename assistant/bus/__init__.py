"""The room event bus: a protocol, its shared dispatch base, and backends chosen by name."""

from assistant.bus.base import BusUnavailable, EventBus
from assistant.bus.inbox import Handler, Listener, Subscription, SubscriptionClosed
from assistant.bus.registry import create_bus

__all__ = [
    "BusUnavailable",
    "EventBus",
    "Handler",
    "Listener",
    "Subscription",
    "SubscriptionClosed",
    "create_bus",
]
