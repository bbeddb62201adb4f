"""The asyncio client; `client.py` is the source of `../_sync/client.py` (scripts/unasync.py)."""
