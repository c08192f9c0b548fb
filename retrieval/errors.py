"""The error users may see: its message is written for them and shown as it is.

Raised by the library (a bad follow, a paper that cannot be found or fetched) and by the adapters
(a bad setting); the Discord adapter's one error handler and the CLI turn it into the reply.
"""

from __future__ import annotations


class UserFacingError(ValueError):
    """Something the user asked cannot be done; ``str(error)`` says why, in words meant for them."""
