"""The event hand-off: ordered, thread-safe, and never held up by a slow subscriber."""

from __future__ import annotations

import threading
import time

from synctui.scheduler.events import EventBus, EventsMissed, StateChanged


def test_events_arrive_in_order_and_a_full_queue_reports_what_it_missed():
    bus = EventBus()
    slow = bus.subscribe(maxsize=3)
    fast = bus.subscribe()
    for number in range(10):
        bus.publish(StateChanged(None, f"e{number}"))
    assert [e.what for e in fast.drain()] == [f"e{n}" for n in range(10)]
    events = slow.drain()
    assert [e.what for e in events[:3]] == ["e0", "e1", "e2"]
    assert events[3] == EventsMissed(7)
    bus.publish(StateChanged("job", "paused"))
    assert slow.drain() == [StateChanged("job", "paused")]


def test_notify_is_called_once_per_empty_to_non_empty_and_get_wakes():
    bus = EventBus()
    calls = []
    subscription = bus.subscribe(notify=lambda: calls.append(1))
    bus.publish(StateChanged(None, "a"))
    bus.publish(StateChanged(None, "b"))
    assert len(calls) == 1
    subscription.drain()
    received = []
    reader = threading.Thread(target=lambda: received.extend(subscription.get(timeout=10)))
    reader.start()
    bus.publish(StateChanged(None, "c"))
    reader.join(10)
    assert [e.what for e in received] == ["c"] and len(calls) == 2


def test_a_stalled_subscriber_never_slows_the_publisher():
    bus = EventBus()
    bus.subscribe(maxsize=100, notify=lambda: None)  # never read
    started = time.perf_counter()
    for _ in range(100_000):
        bus.publish(StateChanged(None, "x"))
    assert time.perf_counter() - started < 5  # generous: only proves it never blocks


def test_closed_subscription_receives_nothing_and_wakes_its_reader():
    bus = EventBus()
    subscription = bus.subscribe()
    result = []
    reader = threading.Thread(target=lambda: result.append(subscription.get(timeout=30)))
    reader.start()
    subscription.close()
    reader.join(10)
    assert result == [[]] and not reader.is_alive()
    bus.publish(StateChanged(None, "late"))
    assert subscription.drain() == []


def test_the_bound_counts_output_lines_not_batches():
    from synctui.scheduler.events import OutputLines

    bus = EventBus()
    subscription = bus.subscribe(maxsize=100)
    bus.publish(OutputLines("job", 1, tuple(str(n) for n in range(500))))  # alone: taken
    bus.publish(OutputLines("job", 1, ("one more",)))
    bus.publish(StateChanged(None, "x"))
    events = subscription.drain()
    assert len(events[0].lines) == 500 and events[1:] == [EventsMissed(2)]
    bus.publish(OutputLines("job", 1, tuple(str(n) for n in range(60))))
    bus.publish(OutputLines("job", 1, tuple(str(n) for n in range(40))))
    bus.publish(OutputLines("job", 1, ("over",)))
    assert [len(e.lines) for e in subscription.drain()[:2]] == [60, 40]
