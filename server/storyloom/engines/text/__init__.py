"""Text engines: the story assistant's voice. Gemini in production, an offline storyteller by default."""
