"""A loopback SMSC for testing the SMPP adapter for real (``smsc.SmppSimulator``).

``smsc`` serves the account (binds, submits, deliveries and the test controls); ``pdu`` is its
own codec, sharing nothing with the adapter's library on purpose, so a client that encodes
something wrongly fails here instead of being decoded by the same mistake; ``reassembly`` checks
and joins submitted parts; ``deliver_sm`` writes receipts and citizens' messages.
"""
