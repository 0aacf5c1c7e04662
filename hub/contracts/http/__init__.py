"""HTTP request models shared by a service and the gateway that forwards to it, one module per service.

The gateway validates a public request with the same model the service validates its internal
request with, so the public OpenAPI document is typed and the two sides cannot drift. Models here
describe the wire shape only (pydantic, no I/O); a service's domain rules stay in the service.
"""
