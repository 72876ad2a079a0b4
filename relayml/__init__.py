"""Relay's ML code: audio decoding, features, peaks, synthetic data. Never imports Django."""

CODE_VERSION = "0.1.0"
