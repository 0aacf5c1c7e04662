"""Open311 GeoReport v2 at /open311/v2/ (API.md "Open311"), so any Open311 client can file and follow cases.

- Services are the hub's case categories (services.yaml); each has optional attributes
  (`attribute[people_involved]`, `attribute[amount_yuan]`).
- `POST requests.(json|xml)` is form-encoded and needs an `api_key`: the `<client_id>.<secret>` of an
  adapter client of system `open311` (`hub clients create --role adapter --system open311` prints
  it). Registration is synchronous, so the answer carries the `service_request_id` (the case number)
  at once; `tokens/{token}` resolves a case number to itself for clients that ask anyway.
- `GET requests` and `GET requests/{id}` show only requests filed through Open311, with the case's
  state as `open`/`closed` plus a status note, the responsible department and the deadline. The
  description, address and reporter are never shown: dispute cases carry personal data.
- Errors: in JSON, RFC 9457 problem details whose `errors` member lists Open311's `{code,
  description}` items; in XML, the spec's `<errors><error><code/><description/></error></errors>`.
"""
