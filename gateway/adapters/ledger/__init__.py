"""The outbound delivery ledger: our status changes, pushed to each external system that knows the case.

A consumer of our status events (`gateway.adapter-sync`) writes one row per (case, system, update of
a round) in the same transaction as its inbox record. A sender loop claims rows and pushes them:

- **in order per case and system**: a row is claimed only when every earlier row of its case and
  system is `sent` or `skipped`; a failed one holds the rest back until it is repaired;
- **with back-off** while the system is down, and `failed` after `adapter_max_attempts` (listed for
  ops, `external.delivery_failed.v1` in the same transaction);
- **never twice**: `sending` is recorded (with a lease) before the call, our update id is the
  system's request id, and each system (and its simulator) ignores a request id it has applied; a
  crash between their answer and our record re-sends the same id;
- **never backwards**: an update ranked lower than the last one the system got (or than what it
  showed when its history was imported) is `skipped`, not sent. A request (12345's 延期申请) is not
  a state: it is never skipped as behind, and the link keeps remembering the last state.
- **merged cases**: the links of a case merged into another follow it (`follows_case_no`); the
  surviving case's updates are written for them too, under their own case number.
"""

from gateway.adapters.ledger.recording import FINAL, FIRST_ROUND, QUEUE, TOPIC, Ledger, StatusEvent
from gateway.adapters.ledger.sender import Policy, Sender
from gateway.adapters.ledger.views import case_sync, delivery_out, list_deliveries, retry_failed

__all__ = [
    "FINAL",
    "FIRST_ROUND",
    "QUEUE",
    "TOPIC",
    "Ledger",
    "Policy",
    "Sender",
    "StatusEvent",
    "case_sync",
    "delivery_out",
    "list_deliveries",
    "retry_failed",
]
