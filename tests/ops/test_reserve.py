"""Reserve sessions against a real private beanstalkd: held jobs, TTR countdown, give-back."""

from __future__ import annotations

import pytest

from stalkview.client import Client, NotFoundError
from stalkview.journal import Journal
from stalkview.ops import ActionError
from stalkview.reserve import ReserveSession
from tests.beanstalkd import Beanstalkd
from tests.factories import BINARY, put_in


async def test_reserve_session_countdown_and_actions(
    server: Beanstalkd, client: Client, journal: Journal
) -> None:
    jid = await put_in(client, "work", BINARY, priority=20, ttr=30)
    async with ReserveSession(server.address, journal=journal) as session:
        held = await session.reserve_from("work", timeout=0)
        assert held is not None and held.id == jid and held.body == BINARY
        assert (held.tube, held.pri, held.ttr) == ("work", 20, 30)
        assert 28 <= held.seconds_left() <= 30 and not held.deadline_soon
        # Watching is put back so the tube does not look consumed.
        assert (await client.stats_tube("work"))["current-watching"] == 0
        assert await session.reserve_from("work", timeout=0) is None

        first_deadline = held.deadline
        await session.touch(jid)
        assert held.deadline >= first_deadline

        await session.release(jid, pri=5, delay=0)
        assert jid not in session.held
        stats = await client.stats_job(jid)
        assert (stats["state"], stats["pri"]) == ("ready", 5)

        await session.reserve_from("work", timeout=0)
        await session.bury(jid, pri=9)
        stats = await client.stats_job(jid)
        assert (stats["state"], stats["pri"]) == ("buried", 9)

        again = await session.reserve_job(jid)
        assert again.pri == 9 and 29 <= again.seconds_left() <= 30
        await session.delete(jid)
        with pytest.raises(NotFoundError):
            await client.stats_job(jid)
        (entry,) = journal.entries()
        assert (entry.action, entry.id, entry.body_bytes()) == ("delete", jid, BINARY)

        with pytest.raises(ActionError, match="tube 'nope' does not exist"):
            await session.reserve_from("nope", timeout=0)
        with pytest.raises(ActionError, match=f"job {jid} is not held"):
            await session.touch(jid)


async def test_reserve_session_held_jobs_go_back_on_close(
    server: Beanstalkd, client: Client, worker: Client
) -> None:
    jid = await put_in(client, "default", b"j")
    other = await put_in(client, "default", b"k")
    session = ReserveSession(server.address)
    await session.open()
    await session.reserve_job(jid)
    assert (await worker.reserve(0)).id == other
    with pytest.raises(ActionError, match=f"job {other} is reserved by a worker"):
        await session.reserve_job(other)
    assert (await client.stats_job(jid))["state"] == "reserved"
    await session.close()
    assert session.held == {}
    assert (await worker.reserve(5)).id == jid


async def test_reserve_session_deadline_soon_and_expiry(
    server: Beanstalkd, client: Client, worker: Client
) -> None:
    jid = await put_in(client, "work", b"short", ttr=2)
    async with ReserveSession(server.address) as session:
        held = await session.reserve_from("work", timeout=0)
        assert held is not None
        # No other job: the server answers DEADLINE_SOON once the held job is
        # inside its last second.
        with pytest.raises(ActionError, match=f"job {jid} you hold is about to pass its TTR"):
            await session.reserve_from("work", timeout=5)
        assert held.deadline_soon and held.server_warned
        await session.touch(jid)
        assert not held.server_warned
        # Let the TTR run out: the server gives the job to the next reserver.
        await worker.watch("work")
        assert (await worker.reserve(5)).id == jid
        assert await session.refresh() == [jid]
        with pytest.raises(ActionError, match=f"job {jid} is not held"):
            await session.release(jid)
