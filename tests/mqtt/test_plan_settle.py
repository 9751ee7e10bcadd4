"""Plans are recomputed once per burst of schedule writes, not once per write."""

from __future__ import annotations

import asyncio

from tests.mosquitto import Broker
from tests.mqtt.conftest import bridge_config, make_bridge, one_device, running
from tests.mqtt.test_plans_and_requests import Forecasts


async def test_a_burst_of_forecast_changes_recomputes_the_plans_a_few_times(broker: Broker) -> None:
    forecasts = Forecasts({})
    bridge = make_bridge(bridge_config(broker), one_device(), forecasts=forecasts)
    async with running(bridge):
        before = forecasts.calls
        for _ in range(40):  # a SCADA writing a schedule item by item, 5 ms apart
            bridge.refresh_plans()
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.5)
    recomputations = (forecasts.calls - before) / 3  # one forecast per followed controller
    assert 1 <= recomputations <= 3
