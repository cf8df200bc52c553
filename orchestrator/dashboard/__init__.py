"""The organisers' live dashboard: what it shows (view), the wake-ups that follow the change log
(feed), and the builds every open page shares (snapshots)."""
