"""The organisers' workspace: the tables they read and the actions they take in the browser."""
