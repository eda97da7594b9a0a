"""The write path's round trip: many commands packed by hiredis in one call, sent and read on one connection.

redis-py's pipeline passes every argument through its Python encoder before hiredis packs it, about
0.5 µs an argument; a batch sends some 45 for each site it touches (the day's keys, the script's
arguments, each hit's session key), so over a province's thousand sites the packing cost more CPU than
everything else the flusher does (`bench/province.py`). hiredis packs str, bytes and int itself.
"""

from __future__ import annotations

import hiredis
from redis.exceptions import ConnectionError, ResponseError


def round_trip(pool, commands: list[tuple], connection=None) -> list:
    """Send ``commands`` in one write and read one reply each: a value, or the ResponseError of an
    error reply (as a non-transactional pipeline with ``raise_on_error=False``).

    ``connection`` is one the caller took from ``pool`` (to see where it went afterwards); it goes
    back to the pool either way. A connection found dead before anything was read (Redis restarted
    since it was last used) is replaced once; anything else raises (ConnectionError, TimeoutError),
    with the connection dropped: whether the commands ran is unknown, so the caller retries only
    what is safe to repeat.
    """
    try:
        packed = [b"".join([hiredis.pack_command(command) for command in commands])]
    except BaseException:
        if connection is not None:
            pool.release(connection)
        raise  # a value hiredis cannot send (a lone surrogate, say): nothing was sent
    connection = connection or pool.get_connection()
    try:
        try:
            connection.send_packed_command(packed)
            replies = [_reply(connection)]
        except ConnectionError:
            connection.disconnect()  # reconnects (a Sentinel-managed one asks where the master is)
            connection.send_packed_command(packed)
            replies = [_reply(connection)]
        replies += [_reply(connection) for _ in commands[1:]]
        return replies
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)


def _reply(connection):
    try:
        return connection.read_response()
    except ResponseError as exc:  # an error reply: read whole, the stream is still in step
        return exc
