"""Melodies as (pitch, duration) tokens: MIDI in and out, corpus preparation, the bundled Bach soprano lines."""
