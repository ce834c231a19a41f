from __future__ import annotations

from datetime import timedelta

from tests.core.conftest import EXAMPLES, World


async def test_a_full_round_through_the_console(world: World) -> None:
    out = await world.run("boss", f"/alignment research import {EXAMPLES / 'research_top3.csv'}")
    assert "Imported 2 studies" in out, out
    people = [f"p{i}" for i in range(8)]
    for person in people:
        await world.session(person).handle_line("inbox")  # registers the person
    out = await world.run("boss", "/alignment poll now")
    assert "is open" in out, out
    await world.app.core.idle()
    for i, person in enumerate(people):
        session = world.session(person)
        inbox = await session.unread()
        assert "Round 1" in inbox
        out = await session.handle_line(f"answer 1 {1 + i % 3} 4 5")
        assert "recorded" in out, out
    world.clock.advance(timedelta(hours=1))
    out = await world.run("boss", "/alignment poll close")
    print(out)
    assert "Alignment score" in out
