"""Video rooms through their life: created before their session, closed after it, each with a
host from the pool where its provider needs one."""
