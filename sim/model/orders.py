"""Order arrivals: each order of the world is handed to the design at its arrival time."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence

from simpy import Environment

from sim.model.events import ARRIVAL, At


class Arrivals:
    """Hands order `i` to `dispatch` at `times[i]` (times sorted, drawn beforehand)."""

    def __init__(self, env: Environment, times: Sequence[float], dispatch: Callable[[int], None]):
        self.env = env
        self.times = times
        self.dispatch = dispatch

    def start(self) -> None:
        self.env.process(self.arrive())

    def arrive(self) -> Generator[At, None, None]:
        env, dispatch = self.env, self.dispatch
        for order, time in enumerate(self.times):
            yield At(env, time, ARRIVAL)
            dispatch(order)
