"""The database: typed models on one base, the engine, migrations, and the change log."""

from . import (
    attendance,
    audit,
    mail,
    matchmaking,
    models,
    outbound,
    outcomes,
    previews,
    replays,
    scheduling,
    signin,
    updates,
    zoom,
)

__all__ = [
    "attendance",
    "audit",
    "mail",
    "matchmaking",
    "models",
    "outbound",
    "outcomes",
    "previews",
    "replays",
    "scheduling",
    "signin",
    "updates",
    "zoom",
]
