"""TTS backends behind one small protocol, chosen by name in AvatarSettings."""

from avatar.tts.base import TTS, Engine, ThreadedTTS, create_tts

__all__ = ["TTS", "Engine", "ThreadedTTS", "create_tts"]
