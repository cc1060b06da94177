"""The version of queenloop that runs (for queen_build_info and the logs)."""

from importlib import metadata

try:
    VERSION = metadata.version("queenloop")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    VERSION = "0+unknown"
