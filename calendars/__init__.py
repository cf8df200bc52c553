"""calendars package."""
