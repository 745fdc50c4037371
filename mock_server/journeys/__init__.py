"""The domain: profiles, their rules and their storage. Nothing here knows Flask or HTTP."""
