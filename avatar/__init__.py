"""Avatar: streaming Chinese + English TTS and the 24-hour virtual-anchor loop."""
