"""Store contract tests, on every backend."""
