"""Probes of abuse through the public API, each against a running service."""
