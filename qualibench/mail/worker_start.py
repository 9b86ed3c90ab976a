"""What the parser workers' fork server imports before it forks them (mail.parser_pool).

The preparing modules, and the words of their patterns derived (mail.prefilter): done once in
the server, every worker inherits them instead of deriving them on its first message.
"""

from __future__ import annotations

from qualibench.mail import prepare  # noqa: F401  (imported for the workers to inherit)
from qualibench.mail.prefilter import derive_all

derive_all()
