"""Platform connectors: chat, activity and video from live platforms into a room."""
