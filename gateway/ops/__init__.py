"""Ops views of the gateway (issue 7): stalled cases, statistics, reports, early-warning alerts.

Pure logic lives in stalls.py, stats.py and signals.py (no I/O, unit-tested); sources.py reads the
services and the gateway's own tables; report.py renders CSV and XLSX; gateway/routes/ops.py is HTTP.
"""
