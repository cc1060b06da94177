"""The Queen's domain: world, features, QueenNN, policies, gate, reward. Pure, seeded, no I/O."""
