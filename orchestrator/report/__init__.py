"""The follow-up report page: figures, tables and charts of the day, printable."""
