"""The HTTP side: the tracking API, and later the management API and the Studio."""
