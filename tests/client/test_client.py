"""Every command against a real beanstalkd: results, server errors, job lifecycle."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

import pytest

from stalkview.client import (
    BadFormatError,
    Call,
    Client,
    DeadlineSoonError,
    DrainingError,
    Job,
    JobTooBigError,
    NotFoundError,
    NotIgnoredError,
    TimedOutError,
    UnknownCommandError,
)
from stalkview.client import commands as cmd
from stalkview.client.client import Command, _Commands
from tests.beanstalkd import Beanstalkd


async def test_put_reserve_delete(client: Client) -> None:
    job_id = await client.put("hello", priority=3, ttr=30)
    job = await client.reserve(timeout=0)
    assert job == Job(job_id, "hello")
    stats = await client.stats_job(job)
    summary = (stats["state"], stats["pri"], stats["ttr"], stats["tube"])
    assert summary == ("reserved", 3, 30, "default")
    await client.delete(job)
    with pytest.raises(NotFoundError):
        await client.stats_job(job_id)


async def test_not_found_for_every_job_command(client: Client) -> None:
    for call in (
        client.delete(999), client.release(999), client.bury(999), client.touch(999),
        client.peek(999), client.kick_job(999), client.stats_job(999), client.reserve_job(999),
    ):  # fmt: skip
        with pytest.raises(NotFoundError):
            await call
    for empty in (client.peek_ready(), client.peek_delayed(), client.peek_buried()):
        with pytest.raises(NotFoundError):
            await empty
    with pytest.raises(NotFoundError):
        await client.stats_tube("nosuchtube")
    with pytest.raises(NotFoundError):
        await client.pause_tube("nosuchtube", 1)


async def test_use_watch_ignore(client: Client) -> None:
    await client.use("jobs")
    assert await client.using() == "jobs"
    assert await client.watch("jobs") == 2
    assert await client.watch("other") == 3
    assert await client.ignore("default") == 2
    assert sorted(await client.watching()) == ["jobs", "other"]
    assert sorted(await client.tubes()) == ["default", "jobs", "other"]
    await client.ignore("other")
    with pytest.raises(NotIgnoredError):
        await client.ignore("jobs")
    job_id = await client.put("in jobs")
    assert (await client.reserve(timeout=0)).id == job_id
    assert (await client.stats_tube("jobs"))["name"] == "jobs"


async def test_constructor_use_and_watch(server: Beanstalkd) -> None:
    async with Client(server.address, use="a", watch=["b", "c"]) as c:
        assert await c.using() == "a"
        assert sorted(await c.watching()) == ["b", "c"]
    async with Client(server.address, watch="b") as c:
        assert await c.watching() == ["b"]


async def test_peeks_and_kick(client: Client) -> None:
    ready = await client.put("r", priority=1)
    delayed = await client.put("d", delay=100)
    assert (await client.peek_ready()).id == ready
    assert (await client.peek_delayed()).id == delayed
    assert await client.peek(delayed) == Job(delayed, "d")
    job = await client.reserve(timeout=0)
    await client.bury(job, priority=9)
    assert (await client.peek_buried()).id == ready
    assert (await client.stats_job(ready))["state"] == "buried"
    assert await client.kick(10) == 1  # buried jobs are kicked before delayed ones
    assert (await client.stats_job(ready))["state"] == "ready"
    assert (await client.stats_job(ready))["pri"] == 9
    await client.kick_job(delayed)
    assert (await client.stats_job(delayed))["state"] == "ready"
    job = await client.reserve(timeout=0)
    await client.bury(job)
    await client.kick_job(job)
    assert (await client.stats_job(job))["kicks"] == 2


async def test_touch_and_reserve_job(client: Client) -> None:
    job_id = await client.put("t", ttr=100)
    job = await client.reserve_job(job_id)
    assert job.body == "t"
    await client.touch(job)
    assert (await client.stats_job(job))["state"] == "reserved"
    await client.release(job, priority=4)
    assert (await client.stats_job(job))["pri"] == 4


async def test_stats(client: Client) -> None:
    stats = await client.stats()
    assert isinstance(stats["id"], str)
    assert isinstance(stats["uptime"], int)
    assert isinstance(stats["version"], str)
    assert stats["draining"] == "false"
    tube = await client.stats_tube("default")
    assert tube["name"] == "default" and tube["current-jobs-ready"] == 0


async def test_tube_named_123_stays_a_string(client: Client) -> None:
    await client.use("123")
    job_id = await client.put("x")
    assert (await client.stats_tube("123"))["name"] == "123"
    assert (await client.stats_job(job_id))["tube"] == "123"
    assert "123" in await client.tubes()


async def test_bytes_client(bclient: Client) -> None:
    body = bytes(range(256)) + b"\r\n\xff\xfe"
    job_id = await bclient.put(body)
    assert await bclient.peek(job_id) == Job(job_id, body)
    with pytest.raises(TypeError, match="encoding=None"):
        await bclient.put("text")


async def test_utf8_client(client: Client) -> None:
    job_id = await client.put("zażółć 🐝 [bold] \x1b[2J")
    assert (await client.reserve(timeout=0)).body == "zażółć 🐝 [bold] \x1b[2J"
    assert (await client.peek(job_id)).body == "zażółć 🐝 [bold] \x1b[2J"


async def test_unix_socket(unix_server: Beanstalkd) -> None:
    async with Client(unix_server.address) as c:
        job_id = await c.put("over unix")
        assert await c.peek(job_id) == Job(job_id, "over unix")


async def test_biggest_body_and_job_too_big(beanstalkd_factory: Callable[..., Beanstalkd]) -> None:
    server = beanstalkd_factory(max_job_size=1000)
    async with Client(server.address, encoding=None) as c:
        job_id = await c.put(b"\r\n" * 500)
        assert (await c.peek(job_id)).body == b"\r\n" * 500
        with pytest.raises(JobTooBigError, match="max job size"):
            await c.put(b"x" * 1001)
        # The server skipped the body: the connection is still in step.
        assert (await c.peek(job_id)).id == job_id


async def test_draining(server: Beanstalkd, client: Client) -> None:
    os.kill(server.pid, signal.SIGUSR1)
    for _ in range(200):  # the signal is handled asynchronously by the server
        if (await client.stats())["draining"] == "true":
            break
        await asyncio.sleep(0.005)
    with pytest.raises(DrainingError, match="draining"):
        await client.put("x")


async def test_timed_out(client: Client) -> None:
    with pytest.raises(TimedOutError):
        await client.reserve(timeout=0)


async def test_unknown_command_and_bad_format_via_raw_calls(client: Client) -> None:
    # Call is public: any line can be sent; the decoder turns the reply into the error.
    decode = cmd.delete(1).decode
    results = await client.run_many(
        [Call(b"frobnicate\r\n", decode), Call(b"delete abc\r\n", decode), cmd.STATS]
    )
    assert isinstance(results[0], UnknownCommandError)
    assert isinstance(results[1], BadFormatError)
    assert isinstance(results[2], dict)


async def test_validation_happens_before_sending(client: Client) -> None:
    with pytest.raises(ValueError, match="may not start with '-'"):
        await client.use("-bad")
    with pytest.raises(ValueError, match="priority -1 is out of range"):
        await client.put("x", priority=-1)
    with pytest.raises(ValueError, match="ttr 4294967296 is out of range"):
        await client.put("x", ttr=2**32)
    with pytest.raises(ValueError, match="tube name is empty"):
        Client("127.0.0.1:1", watch=[""])
    assert (await client.stats())["cmd-use"] == 0
    assert (await client.stats())["cmd-put"] == 0


# --- lifecycle driven by the server's clock -----------------------------------


async def test_delayed_becomes_ready(client: Client) -> None:
    job_id = await client.put("later", delay=1)
    assert (await client.stats_job(job_id))["state"] == "delayed"
    with pytest.raises(TimedOutError):
        await client.reserve(timeout=0)
    job = await client.reserve(timeout=3)
    assert job.id == job_id


async def test_release_with_delay(client: Client) -> None:
    job_id = await client.put("again", priority=5)
    job = await client.reserve(timeout=0)
    await client.release(job, priority=6, delay=1)
    stats = await client.stats_job(job_id)
    assert (stats["state"], stats["pri"], stats["releases"]) == ("delayed", 6, 1)
    assert (await client.reserve(timeout=3)).id == job_id


async def test_ttr_expiry_releases_the_job(server: Beanstalkd, client: Client) -> None:
    job_id = await client.put("slow", ttr=1)
    assert (await client.reserve(timeout=0)).id == job_id
    async with Client(server.address) as other:
        job = await other.reserve(timeout=3)  # comes back when the first holder's TTR runs out
        assert job.id == job_id
        assert (await other.stats_job(job))["timeouts"] == 1


async def test_deadline_soon(client: Client) -> None:
    await client.put("short", ttr=1)
    await client.reserve(timeout=0)
    # With ttr=1 the job is inside the server's 1 s safety margin at once.
    with pytest.raises(DeadlineSoonError, match="TTR"):
        await client.reserve(timeout=2)


async def test_pause_tube(client: Client) -> None:
    job_id = await client.put("paused")
    await client.pause_tube("default", 1)
    assert (await client.stats_tube("default"))["pause"] == 1
    with pytest.raises(TimedOutError):
        await client.reserve(timeout=0)
    assert (await client.reserve(timeout=3)).id == job_id


async def test_stats_tubes_bulk_equals_stats_tube(bclient: Client) -> None:
    await bclient.use("alpha")
    await bclient.put(b"x")
    await bclient.use("default")
    results = await bclient.stats_tubes(["alpha", "gone", "default"], first=[cmd.LIST_TUBES])
    assert sorted(results[0]) == ["alpha", "default"]
    assert results[1] == await bclient.stats_tube("alpha")
    assert results[1]["current-jobs-ready"] == 1
    assert results[2] is None  # NOT_FOUND: the tube vanished
    assert results[3]["name"] == "default"
    assert await bclient.stats_tubes([]) == []
    with pytest.raises(ValueError, match="may not start with '-'"):
        await bclient.stats_tubes(["-x"])


async def test_client_and_pipeline_share_one_command_table(client: Client) -> None:
    table = [name for name, value in vars(_Commands).items() if isinstance(value, Command)]
    assert "stats_job" in table and "pause_tube" in table
    pipeline = client.pipeline()
    for name in table:
        assert callable(getattr(client, name)) and callable(getattr(pipeline, name)), name
    # watch and the list commands came to the pipeline with the table.
    async with client.pipeline() as p:
        p.use("t1").using().watch("t1").watching().ignore("t1")
    assert p.results == ["t1", "t1", 2, ["default", "t1"], 1]
    assert await client.using() == "t1" and await client.watching() == ["default"]
