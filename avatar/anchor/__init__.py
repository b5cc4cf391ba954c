"""The 24-hour virtual anchor: playlist, fillers, priority speaking and crash recovery."""
