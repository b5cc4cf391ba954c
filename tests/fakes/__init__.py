"""Fakes for testing code that talks to other parts; never used by the product."""
