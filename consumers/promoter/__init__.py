"""The promoter: scores candidate versions off-policy and promotes or rolls back."""
