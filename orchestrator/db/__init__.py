"""The database: typed models on one base, the engine, and migrations."""

from . import mail, models

__all__ = ["mail", "models"]
