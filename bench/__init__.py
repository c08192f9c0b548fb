"""Benchmarks and quality evaluation: kept apart from the library and the bot they measure."""
