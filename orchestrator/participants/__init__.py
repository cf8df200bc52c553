"""What a participant's own links open: their seat in a session (`/j/`), their agenda (`/me/`)
and their calendar feed, each found by a token only they were given."""
