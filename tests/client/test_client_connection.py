"""Connections: failures naming the address, loss, reconnect, pipelining, cancels, timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from stalkview.client import (
    Client,
    CommandTimeoutError,
    ConnectionFailedError,
    ConnectionLostError,
    NotFoundError,
    ProtocolError,
    TimedOutError,
)
from stalkview.client import commands as cmd
from stalkview.client.address import parse_address
from stalkview.client.connection import Connection
from stalkview.client.protocol import read_stats_job_fields
from tests.beanstalkd import Beanstalkd, free_port


async def test_refused_port_names_the_address() -> None:
    port = free_port()
    with pytest.raises(ConnectionFailedError) as info:
        await Client.connect(f"127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "connection refused" in str(info.value)


async def test_missing_unix_socket_names_the_path(tmp_path: Path) -> None:
    path = str(tmp_path / "nothing.sock")
    with pytest.raises(ConnectionFailedError) as info:
        async with Client(path):
            pass
    assert path in str(info.value) and "no such socket file" in str(info.value)


async def test_calls_before_connecting_say_how_to_connect(server: Beanstalkd) -> None:
    with pytest.raises(ConnectionLostError, match="not connected"):
        await Client(server.address).stats()


async def test_kill_with_calls_in_flight_fails_them_all(server: Beanstalkd) -> None:
    async with Client(server.address) as blocked, Client(server.address) as busy:
        reserve = asyncio.ensure_future(blocked.reserve())
        behind = asyncio.ensure_future(blocked.stats())  # queued behind the blocking reserve
        many = asyncio.gather(*(busy.stats_job(1) for _ in range(100)), return_exceptions=True)
        await asyncio.sleep(0)  # let the tasks send their commands
        server.kill()
        done = await asyncio.wait_for(
            asyncio.gather(reserve, behind, many, return_exceptions=True), 5
        )
        assert isinstance(done[0], ConnectionLostError)
        assert isinstance(done[1], ConnectionLostError)
        for result in done[2]:
            assert isinstance(result, (ConnectionLostError, NotFoundError))
        assert not blocked.connected
        with pytest.raises(ConnectionLostError, match="connection is closed"):
            await blocked.stats()


async def test_reconnect_restores_use_and_watch(server: Beanstalkd) -> None:
    async with Client(server.address) as c:
        await c.use("jobs")
        await c.watch("work")
        await c.ignore("default")
        server.restart()
        await asyncio.wait_for(c.wait_closed(), 5)
        await c.reconnect()
        assert c.connected
        assert await c.using() == "jobs"
        assert await c.watching() == ["work"]


async def test_auto_reconnect(server: Beanstalkd) -> None:
    async with Client(server.address, auto_reconnect=True, use="t") as c:
        await c.put("before")
        server.restart()
        await asyncio.wait_for(c.wait_closed(), 5)
        job_id = await c.put("after")  # reconnects on its own
        assert (await c.stats_job(job_id))["tube"] == "t"


async def test_gather_of_10000_calls_is_matched_in_order(client: Client) -> None:
    ids = [await client.put(f"job {i}", priority=i) for i in range(5)]
    wanted = [ids[i % 5] for i in range(10_000)]
    results = await asyncio.gather(*(client.stats_job(i) for i in wanted))
    assert [r["id"] for r in results] == wanted
    assert [r["pri"] for r in results[:5]] == [0, 1, 2, 3, 4]


async def test_run_many_and_pipeline(client: Client) -> None:
    ids = await client.run_many([cmd.put(b"x", 1, 0, 60) for _ in range(3)])
    results = await client.run_many([cmd.stats_job(ids[0]), cmd.stats_job(10**6), cmd.peek(ids[2])])
    assert results[0]["id"] == ids[0]
    assert isinstance(results[1], NotFoundError)
    assert results[2].body == "x"
    with pytest.raises(NotFoundError):
        await client.run_many([cmd.delete(10**6)], raise_on_error=True)
    async with client.pipeline() as p:
        p.use("piped").put("y").stats_tube("piped")
    assert p.results[0] == "piped" and isinstance(p.results[1], int)
    assert p.results[2]["current-jobs-ready"] == 1
    assert await client.using() == "piped"  # tracked for reconnects too
    assert await client.run_many([]) == []


async def test_cancelling_one_of_many_calls_keeps_the_stream_in_step(client: Client) -> None:
    ids = [await client.put(str(i)) for i in range(3)]
    tasks = [asyncio.ensure_future(client.peek(ids[i % 3])) for i in range(300)]
    await asyncio.sleep(0)  # all sent
    tasks[150].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[150], asyncio.CancelledError)
    for i, job in enumerate(results):
        if i != 150:
            assert job.id == ids[i % 3] and job.body == str(i % 3)  # type: ignore[union-attr]
    assert (await client.peek(ids[1])).body == "1"


async def test_cancelled_reserve_gives_its_job_back(server: Beanstalkd) -> None:
    async with Client(server.address) as waiting, Client(server.address) as other:
        reserve = asyncio.ensure_future(waiting.reserve())
        await asyncio.sleep(0)  # the reserve is sent and blocks on the server
        reserve.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reserve
        job_id = await other.put("orphan", priority=7)
        # The cancelled reserve still receives this job; the client releases it,
        # keeping its priority, so another consumer gets it well before its TTR.
        job = await other.reserve(timeout=5)
        assert job.id == job_id
        stats = await other.stats_job(job)
        assert stats["pri"] == 7 and stats["releases"] == 1
        assert (await waiting.stats())["current-connections"] == 2  # still usable


async def test_command_timeout_closes_the_connection(server: Beanstalkd) -> None:
    async with Client(server.address, command_timeout=0.2) as c:
        # A blocking reserve occupies the connection: a command behind it gets
        # no reply, and the timeout declares the connection dead.
        reserve = asyncio.ensure_future(c.reserve())
        await asyncio.sleep(0)  # the reserve is sent first
        with pytest.raises(CommandTimeoutError, match=r"no reply to stats for 0\.2s"):
            await c.stats()
        with pytest.raises(ConnectionLostError, match=r"waiting 0\.2s for a reply to stats"):
            await reserve
        assert not c.connected


async def test_reserve_timeout_is_not_cut_by_command_timeout(server: Beanstalkd) -> None:
    async with Client(server.address, command_timeout=0.1) as c:
        with pytest.raises(TimedOutError):
            await c.reserve(timeout=1)
        assert c.connected


async def test_stats_job_fields_interleaved_with_other_calls(client: Client) -> None:
    ids = [await client.put(f"job {n}") for n in range(5)]
    await client.delete(ids[2])
    missing = ids[-1] + 1000
    single, bulk, many, empty, again = await asyncio.gather(
        client.stats_job(ids[0]),
        client.stats_job_fields([*ids, missing]),
        client.run_many([cmd.stats_job(ids[1]), cmd.peek(ids[2])]),
        client.stats_job_fields([]),
        client.peek(ids[4]),
    )
    assert single["id"] == ids[0]
    assert [row[0] if row else None for row in bulk] == [
        str(ids[0]).encode(), str(ids[1]).encode(), None, str(ids[3]).encode(),
        str(ids[4]).encode(), None,
    ]  # fmt: skip
    assert isinstance(bulk[0], tuple) and bulk[0][1:3] == (b"default", b"ready")
    assert many[0]["id"] == ids[1] and isinstance(many[1], NotFoundError)
    assert empty == [] and again.body == "job 4"
    assert client._conn is not None and client._conn.in_flight == 0


async def test_cancelled_bulk_read_keeps_the_stream_in_step(client: Client) -> None:
    jid = await client.put("x")
    bulk = asyncio.ensure_future(client.stats_job_fields(range(1, 3001)))
    after = asyncio.ensure_future(client.stats_job(jid))
    await asyncio.sleep(0)
    bulk.cancel()
    assert (await after)["id"] == jid
    (row,) = await client.stats_job_fields([jid])
    assert isinstance(row, tuple) and row[0] == str(jid).encode()


async def test_peek_sizes(bclient: Client) -> None:
    small = await bclient.put(b"abc")
    big = await bclient.put(b"\xff" * 60_000)
    assert await bclient.peek_sizes([small, big, big + 1, small]) == [3, 60_000, None, 3]


async def test_plain_read_path_hands_bulk_and_single_replies_out_in_order(
    server: Beanstalkd,
) -> None:
    # data_received serves transports without buffered reads; nothing is sent
    # here, the replies are handed in directly.
    conn = await Connection.open(parse_address(server.address))
    try:
        single = conn.send(b"")
        bulk = conn.send_bulk(b"", 2, read_stats_job_fields)
        last = conn.send(b"")
        conn.data_received(b"INSERTED 4\r\nNOT_FOUND\r\nNOT_")
        conn.data_received(b"FOUND\r\nDELETED\r\n")
        assert (await single).args == [b"4"]
        assert await bulk == [None, None]
        assert (await last).status == b"DELETED"
        assert conn.in_flight == 0
    finally:
        conn.close()


# --- a fake server, only to inject malformed or truncated replies -------------


@pytest.fixture
async def fake_server() -> AsyncIterator[Callable[[bytes], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def serve(reply: bytes) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readline()
            writer.write(reply)
            await writer.drain()
            writer.close()

        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(srv)
        return f"127.0.0.1:{srv.sockets[0].getsockname()[1]}"

    yield serve
    for srv in servers:
        srv.close()
        await srv.wait_closed()


async def test_truncated_reply_fails_pending_calls(
    fake_server: Callable[[bytes], Awaitable[str]],
) -> None:
    address = await fake_server(b"OK 100\r\nonly part of the body")
    async with Client(address) as c:
        first = asyncio.ensure_future(c.stats())
        second = asyncio.ensure_future(c.stats())
        results = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 5)
        assert all(isinstance(r, ConnectionLostError) for r in results)
        assert address in str(results[0])
        assert not c.connected


async def test_malformed_reply_closes_the_connection(
    fake_server: Callable[[bytes], Awaitable[str]],
) -> None:
    address = await fake_server(b"OK lots\r\n")
    async with Client(address) as c:
        with pytest.raises(ProtocolError, match="no body size"):
            await asyncio.wait_for(c.stats(), 5)
        assert not c.connected


async def test_unsolicited_reply_closes_the_connection(
    fake_server: Callable[[bytes], Awaitable[str]],
) -> None:
    address = await fake_server(b"INSERTED 1\r\nINSERTED 2\r\n")
    async with Client(address) as c:
        assert await c.put("x") == 1
        await asyncio.wait_for(c.wait_closed(), 5)
        assert not c.connected


async def test_malformed_reply_in_a_bulk_read_closes_the_connection(
    fake_server: Callable[[bytes], Awaitable[str]],
) -> None:
    address = await fake_server(b"NOT_FOUND\r\nOK 4\r\nabcdXX")
    async with Client(address) as c:
        with pytest.raises(ProtocolError, match="not followed by CRLF"):
            await asyncio.wait_for(c.stats_job_fields([1, 2, 3]), 5)
        assert not c.connected
