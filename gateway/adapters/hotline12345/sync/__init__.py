"""12345 back-fill and reconciliation (`hub sync backfill|reconcile hotline12345`).

**Back-fill** imports historical work orders (JSON lines in the platform's own fields, or its list
API) through the adapter path: mapping → intake (channel + source_ref, so a repeat is the same
case) → link. Each link is written *before* registering, with the state the platform already
shows, so the ledger never pushes an old work order's history back over it. Work goes in chunks;
after each chunk the cursor (gateway database) moves past it, so an interrupted run resumes there
and re-sends at most one chunk, which intake answers with the cases it already has.

**Reconciliation** compares the platform's list of work orders with our links and ledger and repairs
drift: a work order we never received is imported; a failed delivery is put back in line; an update
the platform lost is sent again (a new request id, same state); where the platform is ahead of us it
is only reported (we never move its state backwards).
"""

from gateway.adapters.hotline12345.sync.backfill import FAILPOINT, BackfillReport, backfill
from gateway.adapters.hotline12345.sync.links import read_cursor, write_cursor
from gateway.adapters.hotline12345.sync.reconcile import Change, ReconcileReport, reconcile

__all__ = [
    "FAILPOINT",
    "BackfillReport",
    "Change",
    "ReconcileReport",
    "backfill",
    "read_cursor",
    "reconcile",
    "write_cursor",
]
