"""Fault tests: real processes, real servers, faults injected from outside."""
