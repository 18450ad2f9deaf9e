"""How a seed's batches cross from the generator process to the writing one, and the garbage
collector's settings around a bulk load."""

from __future__ import annotations

import gc
import pickle
from datetime import date

from adapter.seed import Generator, _Batch, _tally
from adapter.store.bulk import PreparedEntity, few_collections, prepare


def _batch() -> _Batch:
    generator = Generator(5, date(2026, 11, 26), first_serial=5 * 10**7)
    bundles = [generator.customer(5 * 10**6 + i) for i in range(3)]
    records = prepare(e for b in bundles for e in (*b.entities, *b.usage))
    return _Batch([_tally(b) for b in bundles], prepared=records)


def test_a_pickled_batch_comes_back_with_equal_prepared_records() -> None:
    sent = _batch()
    received = pickle.loads(pickle.dumps(sent))  # noqa: S301 - our own bytes
    assert received.prepared == sent.prepared
    assert received.tallies == sent.tallies


def test_records_come_back_as_prepared_entities_not_plain_tuples() -> None:
    received = pickle.loads(pickle.dumps(_batch()))  # noqa: S301 - our own bytes
    assert received.prepared
    assert all(type(r) is PreparedEntity for r in received.prepared)


def test_few_collections_restores_the_thresholds_it_changed() -> None:
    before = gc.get_threshold()
    with few_collections():
        assert gc.get_threshold() != before
    assert gc.get_threshold() == before


def test_few_collections_unfreezes_what_it_froze() -> None:
    with few_collections():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
