"""Live-commerce assistant service: rooms, typed events, the room bus, chat triage and the API."""
