"""One router module per API; ``adapter.api.app.create_app`` includes each in ``ROUTERS``."""
