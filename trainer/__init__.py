"""The trainer: replay buffer, learner, model-version publisher."""
