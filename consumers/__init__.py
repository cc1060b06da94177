"""Services that consume the game's events: inference and the joiner."""
