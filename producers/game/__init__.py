"""The game: the simulated world as a Kafka service."""
