"""The lifecycle diagram never wraps, whatever the width of its pane."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from stalkview.app.widgets.lifecycle import HEIGHT, WIDTH, JobMark, Lifecycle


class Narrow(App[None]):
    CSS = "VerticalScroll { width: 50; height: 30; overflow-x: auto; }"

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Lifecycle()


async def test_diagram_keeps_its_shape_in_a_narrow_pane() -> None:
    app = Narrow()
    async with app.run_test(size=(100, 40)) as pilot:
        diagram = app.query_one(Lifecycle)
        diagram.update_view(
            {"ready": 5, "delayed": 1, "reserved": 2, "buried": 3},
            {"puts": 1.5, "reserves": 2.0, "deletes": 12.5},
            "tube emails",
            JobMark(id=7, state="buried", buries=2),
        )
        await pilot.pause()
        assert diagram.size.width == WIDTH and diagram.size.height == HEIGHT
        rows = [diagram.render_line(y).text for y in range(HEIGHT)]
        # One drawing row per line: READY and RESERVED share the arrow row, and the
        # delete arrow keeps its end on that same row instead of wrapping below.
        arrow_row = next(r for r in rows if "READY" in r)
        assert "RESERVED" in arrow_row and "✕" in arrow_row
        assert any("delete 12.5/s" in r for r in rows)
        assert any(r.lstrip().startswith("job 7 is buried") for r in rows)
