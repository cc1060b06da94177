"""A game team's tool: publish a rule set on queen.rules (`python -m producers.rules`)."""
