"""The database: typed models on one base, the engine, and migrations."""

from . import attendance, mail, models, replays, scheduling, web, zoom

__all__ = ["attendance", "mail", "models", "replays", "scheduling", "web", "zoom"]
