"""A batch of buffered hits: written together, under an id that stays the same across retries."""

from __future__ import annotations

import dataclasses
import secrets

from ..model.hits import Hit


@dataclasses.dataclass
class Batch:
    """Hits written together; the id stays the same across retries."""

    id: str
    hits: list[Hit]
    replayed: bool = False
    """Read back from the journal (counted in va_journal_replayed_hits_total once written)."""
    size: int = dataclasses.field(init=False)
    """Hits it holds in the buffer's count (fixed: checking sites may drop some hits)."""

    def __post_init__(self):
        self.size = len(self.hits)

    @classmethod
    def new(cls, hits: list[Hit]) -> Batch:
        return cls(secrets.token_hex(8), hits)
