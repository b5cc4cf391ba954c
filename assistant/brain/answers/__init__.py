"""Grounded chat answers: intent, facts from the catalog, LLM wording, the fact guard."""
