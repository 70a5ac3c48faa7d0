"""The app names jobs an interrupted import, move or restore left parked."""

from __future__ import annotations

from stalkview.client import Client
from tests.app.test_app import SIZE, make_app, ready
from tests.beanstalkd import Beanstalkd
from tests.pilot import notices, wait_for


async def test_the_app_names_parked_jobs(server: Beanstalkd) -> None:
    async with Client(server.address, use="emails") as c:
        await c.put("parked", delay=2**32 - 1)
        await c.put("just later", delay=600)
        app = make_app(server)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await wait_for(pilot, lambda: any("parked" in n for n in notices(app)))
            [text] = [n for n in notices(app) if "parked" in n]
            assert text.startswith("1 job in emails is parked")
            assert f"stalkview parked {server.address} --bury" in text
