"""Every HTTP handler: the JSON API under /api/v1, and the pages (join links, agenda, calendar
feeds, the dashboard, the report, sign-in). Handlers stay thin: they read the request, call the
functions of the floors below, and answer."""
