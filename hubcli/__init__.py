"""The `hub` command and the demo: the top layer, above the kit (`hub/`), the services and the gateway.

It may import any of them; nothing imports it (tests and benchmarks aside).
"""
