"""Chat understanding: one typed reading of each line (intent, products, facts) for everyone."""
