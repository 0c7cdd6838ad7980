"""A Redis lock store whose ticket bookkeeping is atomic across Rasa instances.

Rasa 3.6's RedisLockStore issues and returns tickets with a plain
read-modify-write (GET, change, SET). Two instances taking a message of the
same conversation at the same moment can both read the lock before either
writes it: the second write drops the first ticket, both instances believe
they hold the lock, and one of the two messages is lost from the
conversation (seen here with 8 messages sent at once to two instances). Here
every change to a lock is one Lua script that Redis runs atomically: one
round trip per change, where a WATCH/MULTI transaction took three.

The script applies Rasa's TicketLock rules (expired tickets dropped, next
number = last + 1) and keeps the value in the format TicketLock.dumps writes,
so Rasa's get_lock reads it and locks written by plain Rasa are read too.

At start the store waits until Redis answers (bot/stores/waiting.py), so an
instance does not open its port without its locks; a Redis lost later fails
the message, which the channels answer with the outage message
(bot/channels/outage.py), and each message tries Redis again.

A message that waits for the lock also gets in line again when its own ticket
expires while it waits. In Rasa it then waits forever: when an instance dies
while answering, the gateway sends the message to another instance at once,
so the dead instance's ticket and the waiting one expire within the same
second, and Rasa's loop, which checks once a second, finds the lock empty and
its own ticket gone and never takes the lock (seen in the fault benchmark).

Configured in endpoints.production.yml as
``type: bot.stores.lock_store.AtomicRedisLockStore`` with Rasa's Redis
options (url, port, db, password, key_prefix).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Optional

import redis.exceptions
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.stores.waiting import wait_until_reachable

# KEYS[1]: the lock. ARGV: operation (issue, update, finish, cleanup), now,
# ticket number to return or "", new ticket's expiry as JSON or "",
# conversation id.
CHANGE_LOCK = """
local operation, now, returned = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local raw = redis.call('GET', KEYS[1])
if not raw and operation ~= 'issue' then return nil end
local lock = raw and cjson.decode(raw) or {conversation_id = ARGV[5]}

-- Each ticket is kept as the JSON text it was written as: its expiry is never
-- re-encoded, so it keeps full precision (cjson writes 14 digits).
local kept, last = {}, -1
for _, text in ipairs(lock.tickets or {}) do
    local ticket = cjson.decode(text)
    if now > ticket.expires then
        -- expired: dropped, as TicketLock.remove_expired_tickets does
    elseif ticket.number == returned then
        returned = nil  -- TicketLock.remove_ticket_for removes one ticket
    else
        kept[#kept + 1] = text
        last = ticket.number
    end
end

if operation == 'issue' then
    last = last + 1
    kept[#kept + 1] = string.format('{"number": %d, "expires": %s}', last, ARGV[4])
elseif operation == 'cleanup' and #kept == 0 then
    redis.call('DEL', KEYS[1])  -- no one waits
    return nil
end

-- Written by hand like TicketLock.dumps: cjson would write an empty list as {}.
for i, text in ipairs(kept) do kept[i] = cjson.encode(text) end
redis.call('SET', KEYS[1], '{"conversation_id": ' .. cjson.encode(lock.conversation_id)
    .. ', "tickets": [' .. table.concat(kept, ', ') .. ']}')
if operation == 'issue' then return last end
return nil
"""


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
        wait_until_reachable(
            self._description(), self.red.ping, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        )
        # EVALSHA, and the script is loaded again after a Redis restart or SCRIPT FLUSH.
        self._change_lock = self.red.register_script(CHANGE_LOCK)

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncIterator[TicketLock]:
        """Rasa's lock, in line again when the ticket expired while waiting; the last ticket is returned."""
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        try:
            while True:
                lock = self.get_lock(conversation_id)
                if lock is None:
                    raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
                if not lock.is_locked(ticket):
                    break
                if lock._ticket_for_ticket_number(ticket) is None:  # expired while it waited
                    ticket = self.issue_ticket(conversation_id, lock_lifetime)
                    continue
                await asyncio.sleep(wait_time_in_seconds)
                self.update_lock(conversation_id)
            yield lock
        finally:
            self.cleanup(conversation_id, ticket)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        # json.dumps writes the float as Ticket.dumps does: shortest text that reads back exactly.
        return self._change(conversation_id, "issue", expires=json.dumps(time.time() + lock_lifetime))

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, "update")

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, "finish", ticket=ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Return the ticket and delete the lock if no one waits, in one step."""
        self._change(conversation_id, "cleanup", ticket=ticket_number)

    def _description(self) -> str:
        """``lock store redis host:port/db``: what an operator needs, no password."""
        settings = self.red.connection_pool.connection_kwargs
        return f"lock store redis {settings.get('host')}:{settings.get('port')}/{settings.get('db')}"

    def _change(self, conversation_id: str, operation: str, ticket: Any = "", expires: str = "") -> Any:
        # Expiry is judged by this machine's clock, not Redis TIME, as Rasa's TicketLock
        # does; redis-py sends the float as repr(), which Lua reads back exactly.
        now = time.time()
        return self._change_lock(
            keys=[self.key_prefix + conversation_id],
            args=[operation, now, ticket, expires, conversation_id],
        )
