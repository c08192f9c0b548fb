"""A local Discord (REST API v10 + gateway websocket on 127.0.0.1) for the end-to-end tests and ``paperbot bench --load``.

Measurement and test code only: neither ``bot`` nor ``retrieval`` imports it.
"""
