"""SMPP 3.4: the provider adapter (``adapter.SmppSms``) and its parts.

``adapter`` is the ESME the sender calls; ``deliveries`` handles what the SMSC sends us (receipts,
citizens' messages); ``session`` holds aiosmpplib's extension points; ``addresses``, ``errors`` and
``library_log`` are small helpers. The loopback SMSC used in tests is the ``simulator`` package,
which shares no code with the adapter on purpose.
"""
