from collections.abc import Buffer

def update(
    scores: Buffer,
    rows: int,
    width: int,
    offset: int,
    k: int,
    heap_values: Buffer,
    heap_items: Buffer,
    indptr: Buffer,
    seen: Buffer,
    cursor: Buffer,
    lse_max: Buffer,
    lse_sum: Buffer,
    softmax: bool,
    /,
) -> None: ...
