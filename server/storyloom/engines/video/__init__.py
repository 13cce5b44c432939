"""Story videos: rendering and joining MP4 clips (PyAV)."""
