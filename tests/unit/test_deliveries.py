"""A commit is allowed only once the broker has taken every output sent since the last one."""

from __future__ import annotations

import asyncio

from aiokafka.errors import MessageSizeTooLargeError

from streams.app import Deliveries


def _done(loop: asyncio.AbstractEventLoop, error: BaseException | None = None) -> asyncio.Future[None]:
    delivery: asyncio.Future[None] = loop.create_future()
    if error is None:
        delivery.set_result(None)
    else:
        delivery.set_exception(error)
    return delivery


async def test_outputs_the_broker_took_confirm() -> None:
    loop = asyncio.get_running_loop()
    deliveries = Deliveries()
    for _ in range(3):
        deliveries.track("vigil.posts.enriched", _done(loop))
    assert await deliveries.confirm() is None


async def test_confirm_waits_for_outputs_still_in_flight() -> None:
    loop = asyncio.get_running_loop()
    deliveries = Deliveries()
    late: asyncio.Future[None] = loop.create_future()
    deliveries.track("vigil.posts.enriched", late)
    loop.call_later(0.05, late.set_exception, MessageSizeTooLargeError())
    failed = await deliveries.confirm()
    assert failed is not None
    assert failed[0] == "vigil.posts.enriched"
    assert isinstance(failed[1], MessageSizeTooLargeError)


async def test_a_refused_output_is_named_and_stays_a_failure() -> None:
    loop = asyncio.get_running_loop()
    deliveries = Deliveries()
    deliveries.track("vigil.crisis", _done(loop))
    deliveries.track("vigil.posts.enriched", _done(loop, MessageSizeTooLargeError()))
    deliveries.track("vigil.adverse-events", _done(loop))
    first = await deliveries.confirm()
    assert first is not None and first[0] == "vigil.posts.enriched"
    # A later commit (at shutdown, say) with nothing new in flight must not pass over the loss.
    deliveries.track("vigil.posts.enriched", _done(loop))
    assert await deliveries.confirm() == first


async def test_a_cancelled_delivery_is_a_failure() -> None:
    loop = asyncio.get_running_loop()
    deliveries = Deliveries()
    cancelled: asyncio.Future[None] = loop.create_future()
    cancelled.cancel()
    deliveries.track("vigil.posts.dlq", cancelled)
    failed = await deliveries.confirm()
    assert failed is not None and failed[0] == "vigil.posts.dlq"
    assert isinstance(failed[1], asyncio.CancelledError)
