"""The domain's exceptions. Standard library only."""


class QueenError(Exception):
    """Base of the domain's errors."""


class ObservationError(QueenError, ValueError):
    """A raw observation is invalid; the message names the field and the value."""


class WeightsError(QueenError, ValueError):
    """Model weights were refused: checksum, fingerprint, shape or non-finite values."""
