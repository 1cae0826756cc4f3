from __future__ import annotations

from lifetide.context import Lifetide
from lifetide.ops.database import transaction
from lifetide.ops.models import Destination
from lifetide.segments.activation import SegmentActivation
from lifetide.segments.delivery import Deliveries
from lifetide.segments.service import SegmentService
from tests.segments.saved_shop import NOW, country


def test_a_push_whose_send_raises_is_failed_not_left_running(shop_app: Lifetide) -> None:
    segment = SegmentService(shop_app).create("US", country("US"), None)
    with transaction(shop_app.sessions) as session:
        # httpx refuses the address with InvalidURL, which is no transport error: send raises.
        row = Destination(name="Odd", url="http://127.0.0.1:9/\x00", secret="s", created_at=NOW)
        session.add(row)
    deliveries = Deliveries(shop_app.sessions, shop_app.clock, allow_private=True)
    activation = SegmentActivation(shop_app, deliveries)
    started = activation.start_push(segment.id, row.id, None)

    ended = activation.deliver(started.id)

    assert ended.status == "failed"
    assert ended.error is not None
    assert ended.error.startswith("InvalidURL: ")
    stored = deliveries.get_delivery(started.id)
    assert (stored.status, stored.finished_at is not None) == ("failed", True)


def test_activation_takes_the_private_destinations_setting(shop_app: Lifetide) -> None:
    assert SegmentActivation(shop_app).deliveries.allow_private is False
    shop_app.settings.allow_private_destinations = True

    assert SegmentActivation(shop_app).deliveries.allow_private is True
