"""Interoperability with greenstalk (sync, run in a thread): jobs cross both ways intact."""

from __future__ import annotations

import asyncio

import greenstalk

from stalkview.client import Client
from tests.beanstalkd import Beanstalkd

NOT_UTF8 = b"\xff\xfe\x00\r\n\x80 not utf-8"


def _greenstalk(
    server: Beanstalkd, *, use: str = "default", watch: str = "default"
) -> greenstalk.Client[bytes]:
    assert server.port is not None
    return greenstalk.Client(("127.0.0.1", server.port), encoding=None, use=use, watch=watch)


async def test_greenstalk_puts_stalkview_reserves(server: Beanstalkd) -> None:
    def put() -> int:
        with _greenstalk(server, use="interop") as g:
            return g.put(NOT_UTF8, priority=12, delay=1, ttr=77)

    job_id = await asyncio.to_thread(put)
    async with Client(server.address, encoding=None, watch="interop") as c:
        stats = await c.stats_job(job_id)
        summary = (stats["pri"], stats["delay"], stats["ttr"], stats["state"])
        assert summary == (12, 1, 77, "delayed")
        job = await c.reserve(timeout=3)
        assert (job.id, job.body) == (job_id, NOT_UTF8)
        await c.delete(job)


async def test_stalkview_puts_greenstalk_reserves(server: Beanstalkd) -> None:
    async with Client(server.address, encoding=None, use="interop") as c:
        raw = await c.put(NOT_UTF8, priority=3, delay=0, ttr=44)
    async with Client(server.address, use="interop") as c:
        text = await c.put("zażółć", priority=4, ttr=45)

    def reserve_both() -> list[tuple[int, bytes, dict[str, object]]]:
        got = []
        with _greenstalk(server, watch="interop") as g:
            for _ in range(2):
                job = g.reserve(timeout=1)
                got.append((job.id, job.body, dict(g.stats_job(job))))
                g.delete(job)
        return got

    (id1, body1, stats1), (id2, body2, stats2) = await asyncio.to_thread(reserve_both)
    assert (id1, body1, stats1["pri"], stats1["ttr"]) == (raw, NOT_UTF8, 3, 44)
    assert (id2, body2, stats2["pri"], stats2["ttr"]) == (text, "zażółć".encode(), 4, 45)
