"""The data layer of the name model: bundled surnames, vocabulary, reading files, splitting, batching."""

import collections
import gzip
import importlib.util
import json
import unicodedata
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rnnkit.errors import RnnkitError
from rnnkit.lm.batches import iter_eval_batches, pad_batch
from rnnkit.text.data import (
    Batcher,
    count_predictions,
    display_name,
    load_surnames,
    read_items,
    resolve_items,
    split_train_val,
)
from rnnkit.text.vocab import Vocabulary

REPO = Path(__file__).resolve().parents[1]
SDIST = Path("/tmp/dl/names-0.3.0.tar.gz")
COMMITTED_GZ = REPO / "src" / "rnnkit" / "data" / "surnames.txt.gz"


def random_encoded(rng, n, max_len=9, vocab_size=6):
    """n distinct encoded items (ids 1..vocab_size-1, lengths 0..max_len): the item number is the first id."""
    return [
        np.concatenate([[i + 1], rng.integers(1, vocab_size, size=rng.integers(0, max_len))]).astype(np.int64)
        for i in range(n)
    ]


def items_of(batch):
    """The encoded items in a (T, B) batch, read back from its inputs and mask."""
    inputs, _, mask = batch
    return [tuple(inputs[1 : mask[:, b].sum(), b].tolist()) for b in range(inputs.shape[1])]


# bundled surnames


def test_bundled_surnames_are_88799_lowercase_names_smith_first():
    """load_surnames gives the 88,799 census surnames, unique, lowercase a-z, in rank order."""
    names = load_surnames()
    assert 88_799 == len(names) == len(set(names))
    assert ["smith", "johnson", "williams"] == names[:3]
    assert all(name.isascii() and name.isalpha() and name.islower() for name in names)


def test_committed_gz_decompresses_to_88799_unique_names_with_zero_mtime():
    """The shipped surnames.txt.gz is reproducible (mtime 0 in its header) and holds 88,799 unique names."""
    raw = files("rnnkit").joinpath("data", "surnames.txt.gz").read_bytes()
    assert raw == COMMITTED_GZ.read_bytes()
    assert b"\x00\x00\x00\x00" == raw[4:8]  # gzip header MTIME
    lines = gzip.decompress(raw).decode("ascii").split("\n")
    assert "" == lines.pop()  # the text ends with a newline
    assert 88_799 == len(set(lines)) == len(lines)


@pytest.mark.skipif(not SDIST.exists(), reason=f"needs a local copy of the sdist at {SDIST}")
def test_build_script_reproduces_committed_file_byte_for_byte(tmp_path):
    """scripts/build_surnames.py run on the names 0.3.0 sdist writes exactly the committed file."""
    spec = importlib.util.spec_from_file_location("build_surnames", REPO / "scripts" / "build_surnames.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "surnames.txt.gz"
    assert 0 == script.main(["--sdist", str(SDIST), "--out", str(out)])
    assert COMMITTED_GZ.read_bytes() == out.read_bytes()


def test_resolve_items_reads_bundled_name_or_path(tmp_path):
    """resolve_items("surnames") is the bundled list; any other string is a file path."""
    assert load_surnames() == resolve_items("surnames")
    p = tmp_path / "surnames"
    p.write_text("ann\nbo\n", encoding="utf-8")
    assert ["ann", "bo"] == resolve_items(str(p))


def test_display_name_title_cases_words_only_when_asked():
    """With title_case each word (after space, hyphen, apostrophe) is capitalised; without, no change."""
    assert "McDonald" == display_name("mcdonald", True)  # Mc takes a capital after it
    assert "Smith-McCall" == display_name("smith-mccall", True)
    assert "Obrien" == display_name("obrien", True)  # the Census list drops the apostrophe: nothing is guessed
    assert "Macias" == display_name("macias", True)  # Mac is as often no prefix
    assert "O'Brien" == display_name("o'brien", True)
    assert "Smith-Jones Van Der" == display_name("smith-jones van der", True)
    assert "Émile" == display_name("émile", True)
    assert "o'brien" == display_name("o'brien", False)


# vocabulary

UNICODE_ITEMS = ["josé", "straße", "muñoz", "иван", "st. john", "emma"]


def test_vocab_is_sorted_with_boundary_at_zero():
    """Vocabulary ids: the boundary is 0 (bos == eos), then the characters in code-point order."""
    vocab = Vocabulary.from_items(["cab", "bad"])
    assert ("a", "b", "c", "d") == vocab.tokens
    assert 5 == len(vocab)
    assert 0 == vocab.bos == vocab.eos
    assert [".", "a", "b", "c", "d"] == [vocab.token(i) for i in range(len(vocab))]
    assert [3, 1, 2] == vocab.encode("cab").tolist()


def test_encode_decode_round_trips_unicode_and_dot():
    """decode(encode(item)) == item for accented, ß, ñ, Cyrillic letters and a '.' inside an item."""
    vocab = Vocabulary.from_items(UNICODE_ITEMS)
    for item in UNICODE_ITEMS:
        ids = vocab.encode(item)
        assert np.int64 == ids.dtype
        assert len(item) == len(ids)
        assert item == vocab.decode(ids)


def test_dot_in_an_item_is_a_character_not_the_boundary():
    """A '.' inside an item gets its own id, distinct from the boundary id 0."""
    vocab = Vocabulary.from_items(["st. john"])
    dot = vocab.encode(".")[0]
    assert 0 != dot
    assert "st. john" == vocab.decode([vocab.bos, *vocab.encode("st. john"), vocab.eos])


def test_encode_normalizes_to_nfc():
    """An item typed with a combining accent encodes like its precomposed form."""
    vocab = Vocabulary.from_items(["josé"])
    decomposed = unicodedata.normalize("NFD", "josé")
    assert vocab.encode("josé").tolist() == vocab.encode(decomposed).tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8))
def test_encode_decode_round_trip_property(items):
    """For any texts, decode(encode(x)) is x in NFC, and every id is in 1..len(vocab)-1."""
    vocab = Vocabulary.from_items(items)
    for item in items:
        ids = vocab.encode(item)
        assert unicodedata.normalize("NFC", item) == vocab.decode(ids)
        assert ((ids >= 1) & (ids < len(vocab))).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=8), st.booleans())
@example(["ab\x00", "a"], False)  # a name that ends in NUL, the character that ends NumPy's strings
def test_decode_rows_decodes_each_row_up_to_its_length(items, boundary_inside):
    """decode_rows(ids, lengths) == [decode(row[:n])]: any characters (NUL too), whatever lies past the length."""
    vocab = Vocabulary.from_items([*items, "a"])
    rows = [vocab.encode(item) for item in items]
    if boundary_inside:
        rows[0] = np.array([*rows[0], vocab.bos, *vocab.encode("a")])  # decode skips it
    L = max(len(r) for r in rows) + 2
    ids = np.full((len(rows), L), 10**6)  # past each row's length: not even an id
    for r, row in enumerate(rows):
        ids[r, : len(row)] = row
    lengths = np.array([len(r) for r in rows])
    assert vocab.decode_rows(ids, lengths) == [vocab.decode(row) for row in rows]
    ids[0, 0] = len(vocab)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.decode_rows(ids, np.maximum(lengths, 1))


def test_unknown_characters_raise_an_error_naming_them():
    """encode raises RnnkitError naming each unknown character; unknown_chars lists them."""
    vocab = Vocabulary.from_items(["abc"])
    assert {"z", "é"} == vocab.unknown_chars("abzé")
    with pytest.raises(RnnkitError, match="'z'.*'é'"):
        vocab.encode("abzé")


def test_vocab_json_round_trip():
    """from_json(json of to_json()) gives an equal vocabulary with the same ids."""
    vocab = Vocabulary.from_items(UNICODE_ITEMS)
    again = Vocabulary.from_json(json.loads(json.dumps(vocab.to_json())))
    assert vocab == again
    assert vocab.encode("иван").tolist() == again.encode("иван").tolist()


def test_vocab_from_bad_json_raises():
    """from_json rejects dicts that are not a saved vocabulary."""
    with pytest.raises(RnnkitError):
        Vocabulary.from_json({"chars": ["b", "a"]})
    with pytest.raises(RnnkitError):
        Vocabulary.from_json({"itos": []})


# read_items


def test_read_items_strips_ends_and_skips_blank_lines(tmp_path):
    """Items are stripped of surrounding whitespace and blank lines dropped; inner spaces stay."""
    p = tmp_path / "names.txt"
    p.write_text("  ann \n\n\t\nbo\n van der berg \n\n", encoding="utf-8")
    assert ["ann", "bo", "van der berg"] == read_items(p)


def test_read_items_handles_crlf(tmp_path):
    """Windows line endings leave no \\r in the items."""
    p = tmp_path / "names.txt"
    p.write_bytes(b"ann\r\nbo\r\n\r\ncy\r\n")
    assert ["ann", "bo", "cy"] == read_items(p)


def test_read_items_keeps_duplicates_unless_dedupe(tmp_path):
    """Duplicates are kept by default; dedupe keeps each item's first occurrence, in order."""
    p = tmp_path / "names.txt"
    p.write_text("bo\nann\nbo\ncy\nann\n", encoding="utf-8")
    assert ["bo", "ann", "bo", "cy", "ann"] == read_items(p)
    assert ["bo", "ann", "cy"] == read_items(p, dedupe=True)


def test_read_items_reads_unicode_letters_as_nfc(tmp_path):
    """UTF-8 items with é, ß, ñ and Cyrillic read back as NFC strings (a BOM is not part of item 1)."""
    p = tmp_path / "names.txt"
    decomposed = unicodedata.normalize("NFD", "josé")
    p.write_bytes(("\ufeff" + "\n".join([decomposed, *UNICODE_ITEMS[1:]]) + "\n").encode("utf-8"))
    assert UNICODE_ITEMS == read_items(p)


@pytest.mark.parametrize(
    "kind, make",
    [
        ("not found", lambda p: None),
        ("directory", lambda p: p.mkdir()),
        ("no items", lambda p: p.write_bytes(b"")),
        ("no items", lambda p: p.write_bytes(b"\n  \r\n\t\n")),
        ("NUL byte", lambda p: p.write_bytes(b"ann\nb\x00o\n")),
        ("not UTF-8.*offset 7", lambda p: p.write_bytes("ann\ncaf\u00e9\n".encode("latin-1"))),
    ],
)
def test_read_items_errors_name_the_file_in_one_line(tmp_path, kind, make):
    """Missing, directory, empty, blank, NUL, Latin-1 files raise a one-line RnnkitError naming the file."""
    p = tmp_path / "my names.txt"
    make(p)
    with pytest.raises(RnnkitError, match=kind) as info:
        read_items(p)
    message = str(info.value)
    assert str(p) in message
    assert "\n" not in message


# split_train_val


def test_split_is_seeded_and_reproducible():
    """The same seed gives the same split; another seed gives another."""
    items = [f"n{i}" for i in range(200)]
    assert split_train_val(items, seed=3) == split_train_val(items, seed=3)
    assert split_train_val(items, seed=3)[1] != split_train_val(items, seed=4)[1]


def test_split_sizes_and_partition():
    """val has round(fraction * n) items, train the rest; together they are the items, order kept."""
    items = [f"n{i}" for i in range(101)]
    train, val = split_train_val(items, val_fraction=0.2, seed=0)
    assert (81, 20) == (len(train), len(val))
    assert sorted(items) == sorted(train + val)
    assert [x for x in items if x in set(train)] == train


def test_split_caps_val_at_max_val_and_keeps_at_least_one():
    """val is capped at max_val (1000 by default) and has at least 1 item when val_fraction > 0."""
    items = [f"n{i}" for i in range(20_000)]
    assert 1000 == len(split_train_val(items)[1])
    assert 7 == len(split_train_val(items, max_val=7)[1])
    assert 1 == len(split_train_val(["a", "b", "c"], val_fraction=0.01)[1])


def test_split_with_zero_fraction_has_no_validation_set():
    """val_fraction == 0 keeps every item for training."""
    assert (["a", "b"], []) == split_train_val(["a", "b"], val_fraction=0.0)


@pytest.mark.parametrize(
    "items, kwargs",
    [
        (["a", "b"], {"val_fraction": 1.0}),
        (["a", "b"], {"val_fraction": -0.1}),
        (["a"], {"val_fraction": 0.1}),
        ([], {"val_fraction": 0.0}),
        (["a"] * 10, {"val_fraction": 0.99}),
        (["a"] * 10, {"max_val": 0}),
    ],
)
def test_split_errors(items, kwargs):
    """Fractions outside [0, 1), too few items, an empty train side or a cap below 1 raise RnnkitError."""
    with pytest.raises(RnnkitError):
        split_train_val(items, **kwargs)


# batches


def test_count_predictions_counts_characters_plus_end_token():
    """count_predictions adds 1 per item for its end token."""
    assert (3 + 1) + (1 + 1) + (0 + 1) == count_predictions(["ann", "b", ""])


def test_pad_batch_layout():
    """pad_batch is time-major: inputs [BOS, c..], targets [c.., EOS], mask on the n + 1 real steps."""
    inputs, targets, mask = pad_batch([np.array([5, 6, 7]), np.array([8])])
    assert [[0, 0], [5, 8], [6, 0], [7, 0]] == inputs.tolist()
    assert [[5, 8], [6, 0], [7, 0], [0, 0]] == targets.tolist()
    assert [[True, True], [True, True], [True, False], [True, False]] == mask.tolist()


@pytest.mark.parametrize("sort_chunk", [1, 4])
def test_batcher_shapes_and_shifted_targets(sort_chunk):
    """Batches are (T, B) with T = longest item + 1; on masked steps targets[t] == inputs[t + 1]."""
    rng = np.random.default_rng(0)
    encoded = random_encoded(rng, 50)
    batcher = Batcher(encoded, batch_size=8, seed=1, sort_chunk=sort_chunk)
    for _ in range(20):
        inputs, targets, mask = batcher.next_batch()
        assert inputs.shape == targets.shape == mask.shape
        assert inputs.shape[1] in (8, 50 % 8)
        lengths = mask.sum(axis=0) - 1  # (B,)
        assert lengths.max() + 1 == inputs.shape[0]
        assert (inputs[0] == 0).all()
        for b, n in enumerate(lengths):
            assert inputs[1 : n + 1, b].tolist() == targets[:n, b].tolist()
            assert 0 == targets[n, b]
            assert (inputs[n + 1 :, b] == 0).all() and (targets[n + 1 :, b] == 0).all()


@pytest.mark.parametrize("sort_chunk", [1, 3])
def test_batcher_serves_every_item_once_per_epoch(sort_chunk):
    """In each epoch (smaller last batch included) every item appears exactly once; epochs differ in order."""
    rng = np.random.default_rng(1)
    encoded = random_encoded(rng, 37)
    batcher = Batcher(encoded, batch_size=5, seed=2, sort_chunk=sort_chunk)
    assert 8 == batcher.batches_per_epoch
    expected = collections.Counter(tuple(e.tolist()) for e in encoded)
    orders = []
    for epoch in range(3):
        assert epoch == batcher.epoch or batcher.position == batcher.batches_per_epoch
        seen = [item for _ in range(8) for item in items_of(batcher.next_batch())]
        assert expected == collections.Counter(seen)
        orders.append(seen)
    assert orders[0] != orders[1]


def test_batcher_length_sorting_cuts_padding():
    """sort_chunk > 1 pads less than plain shuffling over the same items."""
    rng = np.random.default_rng(2)
    encoded = random_encoded(rng, 400, max_len=30)

    def padding(batcher):
        return sum((~batcher.next_batch()[2]).sum() for _ in range(batcher.batches_per_epoch))

    assert padding(Batcher(encoded, 16, sort_chunk=8)) < padding(Batcher(encoded, 16)) / 2


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 30),
    batch_size=st.integers(1, 9),
    sort_chunk=st.integers(1, 4),
    seed=st.integers(0, 2**32),
    stop=st.integers(0, 25),
)
def test_batcher_resumes_exactly_from_state_dict(n, batch_size, sort_chunk, seed, stop):
    """A Batcher restored from a JSON round trip of state_dict yields what an uninterrupted one does."""
    encoded = random_encoded(np.random.default_rng(seed), n)
    whole = Batcher(encoded, batch_size, seed=seed, sort_chunk=sort_chunk)
    first = Batcher(encoded, batch_size, seed=seed, sort_chunk=sort_chunk)
    for _ in range(stop):
        for a, b in zip(whole.next_batch(), first.next_batch(), strict=True):
            np.testing.assert_array_equal(a, b)
    state = json.loads(json.dumps(first.state_dict()))
    resumed = Batcher(encoded, batch_size, seed=seed + 1, sort_chunk=sort_chunk)
    resumed.load_state_dict(state)
    assert whole.epoch == resumed.epoch
    for _ in range(12):
        for a, b in zip(whole.next_batch(), resumed.next_batch(), strict=True):
            np.testing.assert_array_equal(a, b)


def test_batcher_refuses_state_from_other_settings():
    """load_state_dict raises RnnkitError when the item count or batch size differs."""
    encoded = random_encoded(np.random.default_rng(3), 10)
    state = Batcher(encoded, 4).state_dict()
    with pytest.raises(RnnkitError, match="batch_size"):
        Batcher(encoded, 5).load_state_dict(state)
    with pytest.raises(RnnkitError, match="num_items"):
        Batcher(encoded[:9], 4).load_state_dict(state)


def test_eval_batches_cover_every_item_once_sorted_by_length():
    """iter_eval_batches serves each item exactly once, shortest first, in deterministic batches."""
    rng = np.random.default_rng(4)
    encoded = random_encoded(rng, 23)
    batches = list(iter_eval_batches(encoded, 6))
    assert [6, 6, 6, 5] == [b[0].shape[1] for b in batches]
    seen = [item for batch in batches for item in items_of(batch)]
    assert collections.Counter(tuple(e.tolist()) for e in encoded) == collections.Counter(seen)
    assert sorted(len(s) for s in seen) == [len(s) for s in seen]
    assert count_predictions(encoded) == sum(b[2].sum() for b in batches)
    again = list(iter_eval_batches(encoded, 6))
    assert all((x == y).all() for a, b in zip(batches, again, strict=True) for x, y in zip(a, b, strict=True))
