"""Outbound webhooks: the sender and the subscriptions organisers manage."""
