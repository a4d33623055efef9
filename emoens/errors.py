"""The root of emoens' error types.

Every module defines its own error type (``AudioError``, ``ManifestError``, …) as a subclass of
:class:`EmoensError`. Front ends (CLI, app) catch ``EmoensError`` and show its message, which names
the offending input and says what to do; anything else is a bug.
"""


class EmoensError(Exception):
    """Base class of all errors emoens raises on purpose (bad input, missing files, …)."""
