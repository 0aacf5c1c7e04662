"""Pure notification domain: SMS templates, segments, quiet hours, rate limits, replies, signatures.

Nothing here performs I/O at import time; modules are imported individually by the service.
"""
