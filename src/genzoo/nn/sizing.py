"""Architectures sized to the image: how deep a network goes, how wide each level is, and
where attention sits, from the image's size alone.

A network laid out for 28x28 digits is too shallow for 64x64 photos (its lowest level stays at
16x16 and its attention sees 256 positions) and too costly once its widths run at four times
the pixels. The image models take their layout from these rules (DESIGN section 9, "cost
follows the data"), so that a step's cost grows about linearly with the pixels:

- depth: stride-2 stages until the lowest level is at most `LOWEST` pixels a side, and at
  least one stage: 28 -> 14 -> 7, 32 -> 16 -> 8, 64 -> 32 -> 16 -> 8, 8 -> 4;
- width by resolution: a config's widths are those of its lowest levels (its defaults are the
  28x28 layout); a deeper network gets more levels above them, each half as wide as the one
  below it (and at least `MIN_WIDTH`), so every level costs about the same and each doubling
  of the side adds one level's cost; a shallower one keeps the lowest widths;
- attention only at levels at most `ATTENTION_SIDE` pixels a side (49 to 64 positions);
- MLPs on images: the first hidden layer's width divided by the channel count, so its weights
  per pixel are those of a grayscale image.

Configs take these rules when a field is left unset (none); the model writes the values it
resolved into its own config, which is saved with it, so `genzoo info` shows what was built.
"""

from __future__ import annotations

from collections.abc import Sequence

LOWEST = 8  # the lowest level of a network is at most this many pixels a side
MIN_WIDTH = 8  # the narrowest level a rule makes (GroupNorm's 8 groups still divide it)
ATTENTION_SIDE = 8  # attention at levels no larger than this a side


def halve(n: int) -> int:
    return (n + 1) // 2  # a 3x3 (or 4x4) convolution with stride 2 and padding 1


def stages_for(h: int, w: int, lowest: int = LOWEST, minimum: int = 1) -> int:
    """Stride-2 stages that take an h x w image to at most `lowest` pixels a side (at least
    `minimum`): 28x28 -> 2, 32x32 -> 2, 64x64 -> 3, 8x8 -> 1."""
    n = 0
    while max(h, w) > lowest or n < minimum:
        if max(h, w) == 1:
            break
        h, w, n = halve(h), halve(w), n + 1
    return n


def level_sizes(h: int, w: int, stages: int) -> list[tuple[int, int]]:
    """[(h, w), ...]: the size at each level, the image's first, then after each stage."""
    sizes = [(h, w)]
    for _ in range(stages):
        sizes.append((halve(sizes[-1][0]), halve(sizes[-1][1])))
    return sizes


def widths_for(base: Sequence[int], levels: int) -> tuple[int, ...]:
    """`levels` widths, highest resolution first, whose lowest ones are `base` (given highest
    resolution first too): more levels get widths halving upward (at least MIN_WIDTH);
    fewer keep the lowest of `base`. widths_for((32, 64), 3) == (16, 32, 64)."""
    base = tuple(base)
    if levels <= len(base):
        return base[len(base) - levels :]
    extra, w = [], base[0]
    for _ in range(levels - len(base)):
        w = max(MIN_WIDTH, w // 2)
        extra.append(w)
    return (*reversed(extra), *base)


def possible_widths(base: Sequence[int]) -> tuple[int, ...]:
    """Every width `widths_for(base, n)` can give, for any n: base's and its halvings."""
    out, w = set(base), min(base)
    while w // 2 >= MIN_WIDTH:
        w //= 2
        out.add(w)
    out.add(max(MIN_WIDTH, min(base) // 2))
    return tuple(sorted(out))


def attention_levels(sizes: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """The indices of the levels small enough for self-attention."""
    return tuple(i for i, (h, w) in enumerate(sizes) if max(h, w) <= ATTENTION_SIDE)


def mlp_widths(base: Sequence[int], channels: int, data_first: bool = True) -> tuple[int, ...]:
    """An MLP's hidden widths for images of `channels` channels: the layer next to the image
    (the first of an encoder or discriminator, the last of a generator: `data_first=False`)
    gets its width divided by the channel count (a multiple of 8, at least MIN_WIDTH), and no
    layer is wider than it. mlp_widths((512, 256), 3) == (168, 168)."""
    base = tuple(base)
    if not base or channels <= 1:
        return base
    edge = base[0] if data_first else base[-1]
    cap = max(MIN_WIDTH, 8 * round(edge / channels / 8))
    return tuple(min(w, cap) for w in base)
