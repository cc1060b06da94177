"""The game side of the loop: services that produce observations and rewards."""
