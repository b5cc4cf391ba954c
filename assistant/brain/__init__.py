"""The brain capability: LLM backends, grounded chat answers and sales scripts."""
