"""Replays: the archive of replay links, provider recordings, and the replay mail."""
