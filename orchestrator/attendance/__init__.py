"""Attendance: provider events in, presence intervals, statuses, logs and the key figures out."""
