"""Message contracts between services, one module per producer, versioned by type (.v1).

Consumers ignore unknown fields (extra="ignore") so producers can add fields without a new version.
"""
