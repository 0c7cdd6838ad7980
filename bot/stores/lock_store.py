"""A Redis lock store whose ticket bookkeeping is atomic across Rasa instances.

Rasa 3.6's RedisLockStore issues and returns tickets with a plain
read-modify-write (GET, change, SET). Two instances taking a message of the
same conversation at the same moment can both read the lock before either
writes it: the second write drops the first ticket, both instances believe
they hold the lock, and one of the two messages is lost from the
conversation (seen here with 8 messages sent at once to two instances). Here
every change to a lock runs in a Redis transaction guarded by WATCH and is
retried when another instance changed the lock in between.

Configured in endpoints.production.yml as
``type: bot.stores.lock_store.AtomicRedisLockStore`` with Rasa's Redis
options (url, port, db, password, key_prefix).
"""
from __future__ import annotations

import json
from typing import Any, Callable, Optional, Text, Tuple

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

# (lock after the change or None to delete it, value to return)
Change = Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], Any]]


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: Optional[TicketLock]) -> Tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        return self._change(conversation_id, issue)

    def update_lock(self, conversation_id: Text) -> None:
        def drop_expired(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._change(conversation_id, _without_ticket(ticket_number, delete_when_idle=False))

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Return the ticket and delete the lock if no one waits, in one step."""
        self._change(conversation_id, _without_ticket(ticket_number, delete_when_idle=True))

    def _change(self, conversation_id: Text, change: Change) -> Any:
        import redis

        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    changed, result = change(lock)
                    pipe.multi()
                    if changed is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, changed.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another instance changed this lock: read it again


def _without_ticket(ticket_number: int, delete_when_idle: bool) -> Change:
    def remove(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
        if lock is None:
            return None, None
        lock.remove_ticket_for(ticket_number)
        if delete_when_idle and not lock.is_someone_waiting():
            return None, None
        return lock, None

    return remove
