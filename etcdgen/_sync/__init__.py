"""The sync client. `client.py` here is generated from `../_async/client.py`."""
