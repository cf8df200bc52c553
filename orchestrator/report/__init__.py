"""The follow-up report: its figures, tables and charts (the page itself is `api/report.py`), and
the key figures as text for `rdv report`."""
