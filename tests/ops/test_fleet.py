"""The fleet: several real private servers polled independently, sums, down and back up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from stalkview.client import Client
from stalkview.config import Target
from stalkview.fleet import Fleet, ServerState, poll_all, sum_stats, sum_tubes, tube_breakdown
from tests.beanstalkd import Beanstalkd


async def _fill(address: str, jobs: dict[str, int], delayed: int = 0) -> None:
    async with Client(address, encoding=None) as c:
        for tube, count in jobs.items():
            await c.use(tube)
            for n in range(count):
                await c.put(b"x%d" % n, priority=n)
        await c.use("default")
        for _ in range(delayed):
            await c.put(b"later", delay=600)


async def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_poll_all_sums_equal_the_servers_own_stats(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    a, b, c = beanstalkd_factory(), beanstalkd_factory(), beanstalkd_factory(unix=True)
    await _fill(a.address, {"mail": 3, "jobs": 2}, delayed=1)
    await _fill(b.address, {"mail": 4}, delayed=2)
    await _fill(c.address, {"video": 5})
    targets = [Target("a", a.address), Target(None, b.address), Target("c", c.address)]
    states = await poll_all(targets)
    assert [s.up for s in states] == [True, True, True]
    assert [s.label for s in states] == ["a", b.address, "c"]

    own: list[dict[str, object]] = []
    own_tubes: list[dict[str, dict[str, object]]] = []
    for server in (a, b, c):
        async with Client(server.address) as cl:
            own.append(await cl.stats())
            own_tubes.append({t: await cl.stats_tube(t) for t in await cl.tubes()})
    total = sum_stats(states)
    for key in ("current-jobs-ready", "current-jobs-delayed", "total-jobs", "cmd-put"):
        assert total[key] == sum(int(str(s[key])) for s in own), key
    assert total["ready"] == 14 and total["delayed"] == 3 and total["servers"] == 3
    assert "pid" not in total and "version" not in total

    tubes = sum_tubes(states)
    assert tubes["mail"]["current-jobs-ready"] == 7 and tubes["mail"]["servers"] == 2
    assert tubes["default"]["current-jobs-delayed"] == 3 and tubes["default"]["servers"] == 3
    assert tubes["video"]["total-jobs"] == own_tubes[2]["video"]["total-jobs"]
    breakdown = tube_breakdown(states, "mail")
    rows = [(s.label, st["current-jobs-ready"]) for s, st in breakdown]
    assert rows == [("a", 3), (b.address, 4)]


async def test_poll_all_reports_a_down_server_and_still_polls_the_others(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    a, dead = beanstalkd_factory(), beanstalkd_factory()
    dead.kill()
    states = await poll_all([Target(None, dead.address), Target(None, a.address)])
    assert states[0].up is False and "refused" in (states[0].error or "")
    assert states[1].up is True and "default" in states[1].tubes
    assert sum_stats(states)["servers-down"] == 1


async def test_a_dead_server_never_stalls_the_others_and_recovers(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    servers = [beanstalkd_factory() for _ in range(3)]
    updates: list[tuple[str, bool]] = []
    fleet = Fleet(
        [Target(f"s{n}", s.address) for n, s in enumerate(servers)],
        interval=0.05,
        connect_timeout=1.0,
        command_timeout=1.0,
        max_backoff=0.2,
        on_update=lambda s: updates.append((s.label, s.up)),
    )
    async with fleet:
        await _wait_for(lambda: all(s.up for s in fleet.states))
        victim = servers[1]
        victim.kill()
        state = fleet.state("s1")
        await _wait_for(lambda: not state.up)
        assert state.error and victim.address in state.error
        # The others keep updating while it is down.
        marks = {s.label: s.last_ok for s in fleet.states if s.label != "s1"}
        await _wait_for(
            lambda: all((fleet.state(k).last_ok or 0) > (v or 0) for k, v in marks.items())
        )
        assert all(fleet.state(k).up for k in marks)

        victim.restart()
        async with Client(victim.address) as c:
            await c.use("back")
            await c.put("hi")
        await _wait_for(lambda: state.up and "back" in state.tubes)
        assert state.error is None and state.tubes["back"]["current-jobs-ready"] == 1
    assert not fleet.running
    assert ("s1", False) in updates and ("s0", False) not in updates
    assert fleet.callback_errors == 0


async def test_a_silent_server_times_out_without_delaying_the_others(
    beanstalkd_factory: Callable[..., Beanstalkd],
) -> None:
    import os
    import signal

    good, frozen = beanstalkd_factory(), beanstalkd_factory()
    os.kill(frozen.pid, signal.SIGSTOP)  # accepts connections (backlog) but never answers
    try:
        fleet = Fleet(
            [Target("good", good.address), Target("frozen", frozen.address)],
            interval=0.05,
            connect_timeout=0.3,
            command_timeout=0.3,
            max_backoff=0.3,
        )
        async with fleet:
            await _wait_for(lambda: fleet.state("good").polls >= 5)
            await _wait_for(lambda: fleet.state("frozen").error is not None)
            assert not fleet.state("frozen").up
            assert fleet.state("good").up
    finally:
        os.kill(frozen.pid, signal.SIGCONT)


async def test_rates_and_callback_errors_do_not_stop_polling(server: Beanstalkd) -> None:
    def boom(state: ServerState) -> None:
        raise RuntimeError("a view bug")

    fleet = Fleet([Target(None, server.address)], interval=0.02, on_update=boom)
    async with fleet:
        state = fleet.states[0]
        await _wait_for(lambda: state.polls >= 3)
        assert fleet.callback_errors >= 3
        assert len(state.rates) >= 2
        assert state.version and state.totals()["ready"] == 0
