"""Benchmarks: each module writes JSON under bench/results/ and prints ratios to a baseline."""
