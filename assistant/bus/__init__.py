"""The room event bus: a protocol, its shared dispatch base, and backends chosen by name."""

from assistant.bus.base import EventBus, Handler, Subscription, SubscriptionClosed
from assistant.bus.registry import create_bus

__all__ = ["EventBus", "Handler", "Subscription", "SubscriptionClosed", "create_bus"]
