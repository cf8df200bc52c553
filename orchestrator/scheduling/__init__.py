"""Automatic scheduling: meeting requests placed into slots, optimally where it can be proven."""
