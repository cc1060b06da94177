"""Logging configured once, by a service's main: level and a format naming the service."""

import logging


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every logger's records to stderr with time, service and logger name."""
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
        force=True,
    )
