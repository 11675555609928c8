"""The server's garbage collector settings: thresholds raised for batches, and the heap frozen
once the policy is loaded (:func:`settle_heap`)."""

from __future__ import annotations

import gc

#: The cyclic collector's thresholds in the server (``gc.set_threshold``): a collection of the
#: youngest generation after 50,000 new container objects instead of 700, of the middle one after
#: 20 of those, of everything after 100 of those. A logged batch of a thousand decisions keeps
#: some 30,000 new objects (requests, bodies, log entries) alive until its entries commit; at the
#: default thresholds the collector walked them dozens of times over per batch, and took a fifth
#: of the service's CPU time. Garbage cycles are still collected, some 50,000 allocations late.
GC_THRESHOLDS = (50_000, 20, 100)


def settle_heap() -> None:
    """Collect, then freeze what is left (``gc.freeze``): the loaded policy, the web framework,
    everything the server holds for good. Python's full collections then stop walking those
    objects again and again; they had taken some 40 % of a batch of 1,000 decisions (each batch
    allocates enough to trigger one). Done when the server starts, and after each reload; the
    collector's thresholds are set to :data:`GC_THRESHOLDS` at the same time."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def refreeze() -> None:
    """After a reload: when the server froze its heap at start (:func:`settle_heap`), collect the
    policy just replaced (frozen objects are never collected), then freeze the new one in its
    turn. Outside a server (nothing frozen), nothing."""
    if gc.get_freeze_count():
        gc.unfreeze()
        settle_heap()
