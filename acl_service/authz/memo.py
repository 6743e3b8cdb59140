"""A memo of pure answers, bounded in entries: what the engine and the decision API remember."""

from collections.abc import Callable
from typing import Any, Final, TypeVar

T = TypeVar("T")
_MISSING: Final = object()


class BoundedMemo:
    """Answers by key, at most `capacity` of them (0: remember nothing), counting hits and misses.

    The oldest entry is evicted first: dicts keep insertion order, so eviction is O(1) and a hit
    costs one lookup with no bookkeeping. Keys must be complete descriptions of what the answer
    depends on; then an entry is right forever and eviction only bounds memory.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._entries: dict[object, Any] = {}

    def get(self, key: object) -> Any:
        """The remembered answer, or None; for memos whose answers are never None (`cached` otherwise)."""
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: object, value: object) -> None:
        entries = self._entries
        if len(entries) >= self.capacity:
            if not entries:  # capacity 0: memoization off
                return
            del entries[next(iter(entries))]
        entries[key] = value

    def cached(self, key: object, compute: Callable[[], T]) -> T:
        found = self._entries.get(key, _MISSING)
        if found is not _MISSING:
            self.hits += 1
            return found  # type: ignore[no-any-return]
        self.misses += 1
        value = compute()
        self.put(key, value)
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
