"""Plumbing shared by services: settings, Kafka clients, topics, loop, metrics, broker."""
