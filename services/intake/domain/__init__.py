"""Pure domain core of the intake service (受理/研判): no I/O, no work at import time."""
