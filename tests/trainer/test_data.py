"""The Trainer's row order depends on the window's rows and the seed, never on how they were written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from trainer import data, window

ROWS = 2000


SPEC = {"id": tf.io.FixedLenFeature([], tf.int64), "value": tf.io.FixedLenFeature([], tf.float32)}


def serialized_rows(count: int = ROWS, id_first: bool = True) -> list[bytes]:
    """Distinct tf.Examples: an id and a value, the two features written in either order (both are
    the same tf.Example: a map's entries may come in any order, and Transform's do)."""
    rows = []
    for index in range(count):
        ids, values = tf.train.Example(), tf.train.Example()
        ids.features.feature["id"].int64_list.value.append(index)
        values.features.feature["value"].float_list.value.append(index * 0.5)
        parts = [ids.SerializeToString(), values.SerializeToString()]
        rows.append(b"".join(parts if id_first else parts[::-1]))
    return rows


def write_layout(folder: Path, rows: list[bytes], shards: int, gzipped: bool) -> list[str]:
    """`rows` in `shards` files (round robin); one pattern per file, as TFX gives one per split."""
    folder.mkdir(parents=True)
    options = tf.io.TFRecordOptions(compression_type="GZIP" if gzipped else "")
    names = [str(folder / f"part-{shard:03d}{'.gz' if gzipped else ''}") for shard in range(shards)]
    for shard, name in enumerate(names):
        with tf.io.TFRecordWriter(name, options) as writer:
            for row in rows[shard::shards]:
                writer.write(row)
    return names


def ids_of(files: list[str], seed: int, count: int) -> list[int]:
    """The ids of the first `count` rows the Trainer's order gives (batches of 100)."""
    batches = data.seeded_batches(data.canonical_columns(files, SPEC), 100, seed)
    ids = [int(i) for batch in batches.take(-(-count // 100)) for i in batch["id"].numpy()]
    return ids[:count]


@pytest.fixture(scope="module")
def layouts(tmp_path_factory) -> dict[str, list[str]]:
    """The same rows as Beam's modes, shard counts and span orders might write them."""
    rows = serialized_rows()
    rng = np.random.default_rng(7)
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    value_first = serialized_rows(id_first=False)
    root = tmp_path_factory.mktemp("layouts")
    return {
        "one gzipped file, in order": write_layout(root / "a", rows, 1, gzipped=True),
        "five gzipped shards, shuffled": write_layout(root / "b", shuffled, 5, gzipped=True),
        "three plain shards, reversed, listed backwards": write_layout(root / "c", rows[::-1], 3, gzipped=False)[::-1],
        "features serialized in the other order": write_layout(root / "d", value_first, 2, gzipped=True),
    }


def test_the_same_rows_in_any_layout_are_trained_in_the_same_order(layouts):
    assert serialized_rows()[0] != serialized_rows(id_first=False)[0]  # other bytes, the same row
    orders = {name: ids_of(files, seed=3, count=3 * ROWS) for name, files in layouts.items()}
    first = next(iter(orders.values()))
    for name, order in orders.items():
        assert order == first, name


def test_every_pass_is_a_new_permutation_of_the_whole_window(layouts):
    files = next(iter(layouts.values()))
    order = ids_of(files, seed=3, count=3 * ROWS)
    passes = [order[i * ROWS : (i + 1) * ROWS] for i in range(3)]
    for rows in passes:
        assert sorted(rows) == list(range(ROWS))  # each row exactly once per pass
    assert passes[0] != passes[1] != passes[2]
    # Uniform over the window: the first tenth of every pass holds rows from the whole window, the
    # last quarter of the files included (a shuffle buffer of a tenth of the rows would give none).
    for rows in passes:
        late = sum(row >= ROWS * 3 // 4 for row in rows[: ROWS // 10])
        assert 0.15 < late / (ROWS // 10) < 0.35, late


def test_another_seed_gives_another_order(layouts):
    files = next(iter(layouts.values()))
    assert ids_of(files, seed=3, count=ROWS) != ids_of(files, seed=4, count=ROWS)


def test_mixed_compression_and_empty_windows_are_named(tmp_path):
    folder = tmp_path / "mixed"
    plain = write_layout(folder / "plain", serialized_rows(4), 1, gzipped=False)
    zipped = write_layout(folder / "zipped", serialized_rows(4), 1, gzipped=True)
    with pytest.raises(ValueError, match="mixes gzipped and plain"):
        data.canonical_columns(plain + zipped, SPEC)
    with pytest.raises(FileNotFoundError, match="no training files match"):
        data.canonical_columns([str(tmp_path / "nothing-*")], SPEC)


def test_rows_that_differ_only_in_the_sign_of_zero_or_a_nan_payload_keep_one_order(tmp_path):
    """Sorted by their bits, not their values: no two different rows tie, so no tie is broken by
    the order the rows were read in."""
    values = np.array([0.0, -0.0, np.nan, -np.nan, 1.0], dtype=np.float32)
    rows = []
    for value in values:
        example = tf.train.Example()
        example.features.feature["id"].int64_list.value.append(0)
        example.features.feature["value"].float_list.value.append(value)
        rows.append(example.SerializeToString())
    forward = data.canonical_columns(write_layout(tmp_path / "f", rows, 1, gzipped=False), SPEC)
    backward = data.canonical_columns(write_layout(tmp_path / "b", rows[::-1], 1, gzipped=False), SPEC)
    np.testing.assert_array_equal(forward["value"].view(np.int32), backward["value"].view(np.int32))


def test_each_worker_gathers_only_its_own_batches_and_together_they_train_one_workers_order(layouts):
    """N workers draw the same permutation of row numbers; batch i is worker i mod N's, so the union
    of their batches, interleaved, is the single worker's order, and no row index is gathered twice."""
    columns = data.canonical_columns(next(iter(layouts.values())), SPEC)
    single = [b["id"].numpy().tolist() for b in data.seeded_batches(columns, 100, seed=3, num_epochs=1)]
    shares = [
        [b["id"].numpy().tolist() for b in data.seeded_batches(columns, 100, 3, 1, worker, 3)] for worker in range(3)
    ]
    assert [len(share) for share in shares] == [7, 7, 6]  # 20 batches of 100 rows
    interleaved = [shares[i % 3][i // 3] for i in range(len(single))]
    assert interleaved == single
    rows = [{row for batch in share for row in batch} for share in shares]
    assert not rows[0] & rows[1] and not rows[1] & rows[2]
    with pytest.raises(ValueError, match="worker 3 is not one of 3"):
        data.seeded_batches(columns, 100, 3, 1, 3, 3)


# --- a window larger than one bucket streams (trainer/window.py): the same properties, bounded memory ---

BUCKET_ROWS = 300  # 2,000 rows: 7 buckets


def bucketed_ids(files: list[str], seed: int, count: int, worker: int = 0, workers: int = 1) -> list[int]:
    found = window.open_window(files, SPEC, worker, workers, bucket_rows=BUCKET_ROWS)
    try:
        assert found.whole is None and found.buckets == 7
        batches = data.bucketed_batches(found, 100, seed)
        ids = [int(i) for batch in batches.take(-(-count // 100)) for i in batch["id"].numpy()]
    finally:
        found.close()
    assert not found.folder.exists()  # the bucket files are removed
    return ids[:count]


def test_a_bucketed_window_trains_the_same_rows_in_the_same_order_in_any_layout(layouts):
    orders = {name: bucketed_ids(files, seed=3, count=3 * ROWS) for name, files in layouts.items()}
    first = next(iter(orders.values()))
    for name, order in orders.items():
        assert order == first, name
    assert bucketed_ids(next(iter(layouts.values())), seed=4, count=ROWS) != first[:ROWS]  # the seed matters


def test_every_pass_over_a_bucketed_window_is_a_new_permutation_drawing_from_the_whole_window(layouts):
    order = bucketed_ids(next(iter(layouts.values())), seed=3, count=3 * ROWS)
    passes = [order[i * ROWS : (i + 1) * ROWS] for i in range(3)]
    for rows in passes:
        assert sorted(rows) == list(range(ROWS))
        late = sum(row >= ROWS * 3 // 4 for row in rows[: ROWS // 10])  # a bucket is a sample of all rows
        assert 0.1 < late / (ROWS // 10) < 0.4, late
    assert passes[0] != passes[1] != passes[2]


def test_each_worker_reads_and_trains_on_its_own_buckets_which_together_are_the_window(layouts):
    files = next(iter(layouts.values()))
    shares = []
    for worker in range(3):
        found = window.open_window(files, SPEC, worker, 3, bucket_rows=BUCKET_ROWS)
        try:
            assert found.owned == tuple(b for b in range(7) if b % 3 == worker)
            held = {int(i) for b in found.owned for i in found.bucket(b)["id"]}
            on_disk = {int(path.stem.split("-")[1]) for path in found.folder.glob("bucket-*.npz")}
            assert on_disk <= set(found.owned)  # nothing of another worker's kept
        finally:
            found.close()
        shares.append(held)
        one_pass = bucketed_ids(files, 3, len(held), worker, 3)
        assert sorted(one_pass) == sorted(held)
    assert sum(len(s) for s in shares) == ROWS and set().union(*shares) == set(range(ROWS))


def test_the_bucketed_windows_digest_is_its_rows_and_not_their_layout(layouts):
    from trainer.training_record import window_digest

    digests = set()
    for files in layouts.values():
        found = window.open_window(files, SPEC, bucket_rows=BUCKET_ROWS)
        digests.add((window_digest(found), found.rows))
        found.close()
    assert len(digests) == 1
    fewer = window.open_window(next(iter(layouts.values())), SPEC, bucket_rows=BUCKET_ROWS // 2)
    assert window_digest(fewer) == digests.pop()[0]  # nor on the bucket size
    fewer.close()


def test_a_window_within_one_bucket_is_held_whole_in_the_order_it_always_had(layouts):
    files = next(iter(layouts.values()))
    found = window.open_window(files, SPEC)
    assert found.buckets == 1 and found.folder is None
    single = [b["id"].numpy().tolist() for b in data.seeded_batches(found.whole, 100, seed=3, num_epochs=1)]
    assert [i for batch in single for i in batch] == ids_of(files, seed=3, count=ROWS)
