"""Worked examples of a game server embedding the game-side client (docs/integrating.md)."""
