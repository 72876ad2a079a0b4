"""Building blocks of `relayml.realistic`: TTS engines, artifacts, the channel and the presence check."""
