"""The demo order system shows every scenario the flows handle, on any day."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Optional
from zoneinfo import ZoneInfo

import pytest

from bot import clock, knowledge
from bot.stores.orders import (
    ORDER_ID_PATTERN,
    Order,
    OrderStatus,
    OrderStore,
    RefundState,
    SQLOrderStore,
    TrackingEvent,
    load_demo_scenarios,
    load_order_store,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 10, 30, tzinfo=SHANGHAI)
DEMO_ORDERS_FILE = knowledge.path("demo_orders")
TRACKING_NUMBER = re.compile(r"(SF|YT|JDV|JD|JT|YD|ZTO|STO|DPK|EMS)\d{9,15}")
SCENARIOS = {
    "delivered", "in_transit_fresh", "in_transit_stale", "signed_not_received", "pending_shipment",
    "refund_requested", "refunded", "refund_rejected", "disputed", "cancelled",
}


@pytest.fixture
def store(engine) -> SQLOrderStore:
    return SQLOrderStore(engine)


@pytest.fixture
def demo(store) -> SQLOrderStore:
    store.seed_from_file(DEMO_ORDERS_FILE, NOW)
    return store


def demo_order(store: SQLOrderStore, scenario: str) -> Order:
    return store.get(load_demo_scenarios()[scenario])


def sample_order(**changes) -> Order:
    order = Order(
        order_id="261125-000000000000001", item="测试商品", amount=Decimal("9.90"),
        status=OrderStatus.IN_TRANSIT, carrier="中通快递", tracking_number="ZTO700000000001",
        events=(
            TrackingEvent(NOW - timedelta(hours=1), "【上海转运中心】已发出，下一站【杭州】"),
            TrackingEvent(NOW - timedelta(hours=5), "【上海浦东营业部】已揽收"),
        ),
        refund_state=RefundState.NONE, refund_amount=None, placed_at=NOW - timedelta(hours=8),
    )
    return replace(order, **changes)


# -- the demo data ---------------------------------------------------------------

def test_demo_seeding_stores_every_scenario(store):
    assert store.seed_from_file(DEMO_ORDERS_FILE, NOW) == len(load_demo_scenarios())
    assert SCENARIOS <= set(load_demo_scenarios())
    assert 8 <= len(load_demo_scenarios()) <= 10
    for scenario, order_id in load_demo_scenarios().items():
        order = store.get(order_id)
        assert order is not None, scenario
        assert ORDER_ID_PATTERN.fullmatch(order.order_id)
        assert order.tracking_number is None or TRACKING_NUMBER.fullmatch(order.tracking_number)


def test_demo_orders_are_realistic(demo):
    orders = [demo.get(order_id) for order_id in load_demo_scenarios().values()]
    assert any(order.amount > 1000 for order in orders)
    assert any("坚果" in order.item or "奶粉" in order.item for order in orders)
    carriers = {order.carrier for order in orders if order.carrier}
    assert {"中通快递", "圆通速递", "顺丰速运", "韵达快递", "极兔速递"} <= carriers
    assert len({order.tracking_number for order in orders if order.tracking_number}) == len(
        [order for order in orders if order.tracking_number]
    )


def test_delivered_order_ends_with_the_signature(demo):
    order = demo_order(demo, "delivered")
    assert order.status == OrderStatus.DELIVERED
    assert "已签收" in order.latest_event.description
    assert order.refund_state == RefundState.NONE


def test_fresh_and_stale_shipments_relative_to_now(demo):
    fresh, stale = demo_order(demo, "in_transit_fresh"), demo_order(demo, "in_transit_stale")
    assert fresh.status == stale.status == OrderStatus.IN_TRANSIT
    assert fresh.hours_since_last_update(NOW) < 12
    assert stale.hours_since_last_update(NOW) > 48
    assert NOW - stale.latest_event.time > timedelta(hours=48)


def test_signed_but_not_received_was_signed_a_day_ago(demo):
    order = demo_order(demo, "signed_not_received")
    assert order.status == OrderStatus.DELIVERED
    assert "已签收" in order.latest_event.description
    assert 20 <= order.hours_since_last_update(NOW) <= 30


def test_pending_shipment_has_no_tracking_yet(demo):
    order = demo_order(demo, "pending_shipment")
    assert order.status == OrderStatus.PENDING_SHIPMENT
    assert (order.carrier, order.tracking_number, order.events, order.latest_event) == (None, None, (), None)
    assert order.hours_since_last_update(NOW) is None


@pytest.mark.parametrize("scenario, state", [
    ("refund_requested", RefundState.REQUESTED),
    ("refunded", RefundState.REFUNDED),
    ("refund_rejected", RefundState.REJECTED),
    ("disputed", RefundState.DISPUTED),
])
def test_refund_scenarios(demo, scenario, state):
    order = demo_order(demo, scenario)
    assert order.refund_state == state
    assert order.refund_amount is not None and 0 < order.refund_amount <= order.amount


def test_cancelled_order(demo):
    assert demo_order(demo, "cancelled").status == OrderStatus.CANCELLED


def test_events_are_newest_first_in_shanghai_time(demo):
    for order_id in load_demo_scenarios().values():
        order = demo.get(order_id)
        times = [event.time for event in order.events]
        assert times == sorted(times, reverse=True)
        assert all(time.utcoffset() == timedelta(hours=8) and time < NOW for time in times)
        assert order.placed_at <= (times[-1] if times else NOW)


def test_demo_data_is_redated_to_the_given_day(store):
    later = NOW + timedelta(days=30)
    store.seed_from_file(DEMO_ORDERS_FILE, later)
    order = demo_order(store, "in_transit_stale")
    assert order.hours_since_last_update(later) == pytest.approx(60)


def test_seeding_twice_does_not_duplicate(engine, store):
    store.seed_from_file(DEMO_ORDERS_FILE, NOW)
    once = {order_id: store.get(order_id) for order_id in load_demo_scenarios().values()}
    assert store.seed_from_file(DEMO_ORDERS_FILE, NOW) == len(once)
    assert {order_id: store.get(order_id) for order_id in once} == once
    with engine.connect() as connection:
        stored_events = connection.exec_driver_sql("SELECT COUNT(*) FROM service_tracking_events").scalar()
    assert stored_events == sum(len(order.events) for order in once.values())


# -- the store -------------------------------------------------------------------

def test_upsert_stores_and_replaces(store):
    order = sample_order()
    store.upsert(order)
    store.upsert(order)
    assert store.get(order.order_id) == order

    delivered = sample_order(
        status=OrderStatus.DELIVERED,
        events=(TrackingEvent(NOW, "【杭州西湖区营业部】已签收，签收人：本人"), *order.events),
    )
    store.upsert(delivered)
    assert store.get(order.order_id) == delivered
    assert len(store.get(order.order_id).events) == 3


def test_amounts_are_exact(store):
    store.upsert(sample_order(amount=Decimal("1999.99"), refund_amount=Decimal("0.01"),
                              refund_state=RefundState.APPROVED))
    order = store.get("261125-000000000000001")
    assert (order.amount, order.refund_amount) == (Decimal("1999.99"), Decimal("0.01"))


def test_tracking_number_lookup_ignores_case_and_width(demo):
    expected = demo_order(demo, "delivered")
    assert demo.by_tracking_number("zto781234567890") == expected
    assert demo.by_tracking_number(" ＺＴＯ７８１２３４５６７８９０ ") == expected


def test_order_number_lookup_tolerates_spaces_and_full_width(demo):
    assert demo.get(" ２６１１１５-300118842265901 ").item.startswith("维达")


@pytest.mark.parametrize("lookup", ["get", "by_tracking_number"])
@pytest.mark.parametrize(
    "number", ["261125-999999999999999", "SF0000000000", "", "'; DROP TABLE service_orders; --"]
)
def test_unknown_numbers_are_none(demo, lookup, number):
    assert getattr(demo, lookup)(number) is None


def test_order_sorts_events_newest_first_and_checks_states():
    oldest_first = sample_order().events[::-1]
    assert sample_order(events=oldest_first).latest_event.description.startswith("【上海转运中心】")
    with pytest.raises(ValueError):
        sample_order(status="lost")
    with pytest.raises(ValueError):
        sample_order(refund_state="maybe")


def test_hours_since_last_update_uses_the_service_clock():
    with clock.frozen_at(NOW + timedelta(hours=2)):
        assert sample_order().hours_since_last_update() == pytest.approx(3)


# -- choosing the order system -----------------------------------------------------

class FakeOrderStore:
    """What a shop would write: two methods, no constructor arguments."""

    def get(self, order_id: str) -> Optional[Order]:
        return sample_order(order_id=order_id)

    def by_tracking_number(self, number: str) -> Optional[Order]:
        return None


class NotAnOrderStore:
    pass


def test_load_order_store_honours_order_store_env(monkeypatch):
    monkeypatch.setenv("ORDER_STORE", f"{__name__}:FakeOrderStore")
    store = load_order_store()
    assert isinstance(store, FakeOrderStore) and isinstance(store, OrderStore)
    assert store.get("261125-123456789012345").order_id == "261125-123456789012345"


@pytest.mark.parametrize("spec, error", [
    ("no_colon_here", ValueError),
    (f"{__name__}:NotAnOrderStore", TypeError),
    ("bot.no_such_module:Store", ImportError),
])
def test_load_order_store_explains_a_wrong_setting(monkeypatch, spec, error):
    monkeypatch.setenv("ORDER_STORE", spec)
    with pytest.raises(error):
        load_order_store()


def test_load_order_store_defaults_to_the_seeded_demo(monkeypatch, tmp_path):
    monkeypatch.delenv("ORDER_STORE", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'service.db'}")
    with clock.frozen_at(NOW):
        store = load_order_store()
    assert isinstance(store, SQLOrderStore)
    assert load_order_store() is store
    assert demo_order(store, "in_transit_stale").hours_since_last_update(NOW) > 48

