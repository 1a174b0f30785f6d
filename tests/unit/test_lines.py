"""Counting an output in pieces (``lines.piece_chunks``): pieces that meet cut a file into its lines exactly once,
wherever the cuts fall (inside a line, on a line feed, next to one, at the ends) and however the reads are chunked."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from batchrecs.lines import piece_chunks


def _piece(data: bytes, start: int, end: int, chunk: int) -> bytes:
    first = max(start - 1, 0)
    chunks = [data[n : n + chunk] for n in range(first, len(data), chunk)]
    return b"".join(piece_chunks(chunks, skip_partial=start > 0, limit=end - first))


@settings(max_examples=400, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"x")), min_size=0, max_size=20),
    last_feed=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=6),
    chunk=st.integers(min_value=1, max_value=9),
)
def test_pieces_that_meet_give_every_line_once(
    lines: list[bytes], last_feed: bool, cuts: list[int], chunk: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if last_feed and lines else b"")
    bounds = sorted({0, len(data), *(cut for cut in cuts if cut <= len(data))})
    pieces = [_piece(data, start, end, chunk) for start, end in itertools.pairwise(bounds)]
    assert b"".join(pieces) == data
    offset = 0
    for piece, (start, _) in zip(pieces, itertools.pairwise(bounds), strict=True):
        if piece:  # whole lines, from the first line that starts in the piece
            first = start if start == 0 or data[start - 1 : start] == b"\n" else data.find(b"\n", start) + 1
            assert offset == first, (data, start, piece)
        offset += len(piece)


def test_a_cut_on_a_line_feed_and_just_after_it() -> None:
    data = b"aa\nbb\ncc\n"
    assert _piece(data, 0, 2, 4) == b"aa\n"  # the line holding byte 1 goes to its end
    assert _piece(data, 2, 3, 4) == b""  # "\n" at 2 ends aa; bb starts at 3
    assert _piece(data, 3, 9, 2) == b"bb\ncc\n"
    assert _piece(data, 4, 9, 1) == b"cc\n"  # inside bb: bb is the piece before's
