"""The mail the core sends: invites and their updates, reminders, and the outbox that delivers
them with retries."""
