"""Decoding of video frames and audio tracks, streamed in memory."""
