"""Human formatting: the compact cells the job list's columns use."""

from __future__ import annotations

from stalkview.format import count_cells, duration_cells


def test_duration_cells_is_compact() -> None:
    assert [duration_cells(s) for s in (-3, 0, 45, 61, 599, 600, 3599, 3600, 7260)] == [
        "0s", "0s", "45s", "1m01s", "9m59s", "10m", "59m", "1h00m", "2h01m",
    ]  # fmt: skip
    assert duration_cells(86_399) == "23h"
    assert duration_cells(2 * 86_400 + 3 * 3600) == "2d03h"
    assert duration_cells(40 * 86_400) == "40d"


def test_count_cells_fits_four_cells() -> None:
    values = (0, 9999, 10_000, 999_999, 1_250_000, 12_000_000, 4_294_967_295)
    assert [count_cells(n) for n in values] == ["0", "9999", "10k", "999k", "1.2M", "12M", "4G"]
