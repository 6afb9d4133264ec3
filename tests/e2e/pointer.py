"""Real pointer input for the browser tests: mouse strokes through Playwright's mouse, finger strokes
through Chromium's own touch events (CDP Input.dispatchTouchEvent), which the page receives as
pointer events of type "touch", exactly as from a phone's screen."""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]


def stroke(page, points: Sequence[Point], *, touch: bool = False, steps: int = 6) -> None:
    """One stroke through `points`, given as fractions of the pad; the pad is scrolled into view first."""
    page.locator("#pad").scroll_into_view_if_needed()
    box = page.locator("#pad").bounding_box()
    at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    if not touch:
        page.mouse.move(*at[0])
        page.mouse.down()
        for point in at[1:]:
            page.mouse.move(*point, steps=steps)
        page.mouse.up()
        return
    cdp = page.context.new_cdp_session(page)
    send = lambda kind, pts: cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": pts})  # noqa: E731
    send("touchStart", [{"x": at[0][0], "y": at[0][1]}])
    for (x0, y0), (x1, y1) in zip(at, at[1:], strict=False):
        for k in range(1, steps + 1):
            send("touchMove", [{"x": x0 + (x1 - x0) * k / steps, "y": y0 + (y1 - y0) * k / steps}])
    send("touchEnd", [])
    cdp.detach()
