"""Kafka's group coordinator: who is in the consumer group, when a silent member is removed,
and when a rebalance starts and completes.

A member heartbeats every `heartbeat_interval` from the moment it joined; when it
crashes, the coordinator removes it `session_timeout` after its last heartbeat (a
heartbeat due at the very instant of the crash is not sent). A join, a removal or a
leave starts a rebalance; changes while one is under way are part of it. A rebalance
completes `rebalance_time` (join and sync) after it started, or after the last member it
waits for is gone: the coordinator waits for every known member to rejoin, and a crashed
member never does, so a rebalance started while a member is silent completes only
`rebalance_time` after that member's session expired. With static membership
(`group.instance.id`) a member back before its session expired is the same member:
nothing moves. Without it, a restarted store joins as a new member, and its old self
lingers (a ghost) until its session expires.

The group formed at the start is not a rebalance; every rebalance after it is counted
(a `rebalance` event on the timeline, recorded by the design).

While the cluster is down (`down`, `up`: `database.outages` for a Kafka design) the
coordinator is gone: no session expires, no rebalance starts or completes. Changes of
membership meanwhile (a crash, a join, a leave) wait; a rebalance under way is started
over. When the cluster is back, the coordinator gives every member a fresh session, as a
new coordinator does when it loads the group after a failover: a silent member is removed
`session_timeout` after the cluster came back, and a rebalance under way or owed starts
(its members join and sync again) and completes `rebalance_time` later at the earliest.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from simpy import Environment

from sim.broker_sections import KafkaSpec
from sim.model.events import POLL, At
from sim.records import Recorder


class Member:
    """One member of the group (a store's consumer, in one incarnation)."""

    __slots__ = ("alive", "crashed_at", "joined_at", "owned", "store", "token")

    def __init__(self, store: int, joined_at: float):
        self.store = store
        self.joined_at = joined_at
        self.alive = True
        self.crashed_at = math.nan
        self.owned = 0  # partitions owned when it crashed
        self.token = 0  # bumped to call off a pending session expiry


def session_expiry(joined_at: float, crash: float, heartbeat: float, session: float) -> float:
    """When the coordinator removes a member that joined at `joined_at`, heartbeats every
    `heartbeat` and fell silent at `crash`: its last heartbeat before the crash plus
    `session`, so between `session - heartbeat` and `session` after the crash."""
    last = max(0, math.ceil((crash - joined_at) / heartbeat) - 1)
    return joined_at + last * heartbeat + session


class GroupCoordinator:
    """Membership and rebalances of one consumer group.

    `on_start(now)` is called when a rebalance starts, `on_complete(now, members)` when it
    completes, with the stores of the members (sorted) that get partitions.
    """

    def __init__(
        self,
        env: Environment,
        spec: KafkaSpec,
        recorder: Recorder,
        on_start: Callable[[float], None],
        on_complete: Callable[[float, list[int]], None],
    ):
        self.env = env
        self.spec = spec
        self.recorder = recorder
        self.on_start = on_start
        self.on_complete = on_complete
        self.members: dict[int, Member] = {}
        self.ghosts: list[Member] = []  # old selves of restarted non-static members
        self.rebalancing = False
        self.completing = False
        self.reachable = True  # the coordinator (the cluster) is reachable
        self.owed = False  # a change while down: a rebalance starts when it is back
        self.round = 0  # bumped when the cluster goes down: the join and sync under way fail

    def form(self, stores: list[int]) -> None:
        """The group as it forms at the start: every store, no rebalance counted."""
        now = self.env.now
        self.members = {store: Member(store, now) for store in stores}

    def is_member(self, store: int) -> bool:
        return store in self.members

    def crash(self, store: int, owned: int) -> None:
        """The store's consumer stopped heartbeating; its session will expire."""
        member = self.members.get(store)
        if member is None:
            return  # not in the group (it left, or was removed): nothing to expire
        now = self.env.now
        member.alive, member.crashed_at, member.owned = False, now, owned
        member.token += 1
        if self.reachable:  # else its session starts afresh when the cluster is back (`up`)
            spec = self.spec
            heartbeat, session = spec.heartbeat_interval, spec.session_timeout
            self._expire_at(member, session_expiry(member.joined_at, now, heartbeat, session))

    def _expire_at(self, member: Member, when: float) -> None:
        event = At(self.env, when, POLL)
        event.member, event.token = member, member.token
        event.callbacks.append(self._expire)

    def resume(self, store: int) -> bool:
        """A static member back before its session expired keeps its place (True)."""
        member = self.members.get(store)
        if not self.spec.static_membership or member is None or member.alive:
            return False
        member.alive = True
        member.joined_at = self.env.now
        member.token += 1  # its session no longer expires
        self._check()
        return True

    def join(self, store: int) -> None:
        """The store joins as a new member (a rebalance); its silent old self, if any,
        stays a ghost until its session expires."""
        old = self.members.get(store)
        if old is not None and not old.alive:
            self.ghosts.append(old)
        self.members[store] = Member(store, self.env.now)
        self.trigger()

    def leave(self, store: int) -> None:
        """The member leaves the group (max.poll.interval exceeded): a rebalance."""
        if self.members.pop(store, None) is not None:
            self.trigger()

    def down(self) -> None:
        """The cluster goes down: sessions stop expiring, a rebalance under way fails."""
        self.reachable = False
        self.round += 1
        self.completing = False
        for member in [*self.members.values(), *self.ghosts]:
            member.token += 1

    def up(self) -> None:
        """The cluster is back: every member gets a fresh session from now (heartbeats
        resume from now; a silent one expires `session_timeout` from now); a rebalance
        under way or owed starts over."""
        self.reachable = True
        now = self.env.now
        for member in [*self.members.values(), *self.ghosts]:
            member.joined_at = now
            if not member.alive:
                self._expire_at(member, now + self.spec.session_timeout)
        if self.owed:
            self.owed = False
            self.trigger()
        else:
            self._check()

    def trigger(self) -> None:
        """Start a rebalance unless one is under way (then this change is part of it);
        while the cluster is down, once it is back."""
        if not self.reachable:
            self.owed = True
            return
        if not self.rebalancing:
            self.rebalancing = True
            self.on_start(self.env.now)
        self._check()

    def _expire(self, event: At) -> None:
        member = event.member
        if member.token != event.token:
            return  # it came back (static) in time
        if member in self.ghosts:
            self.ghosts.remove(member)
        elif self.members.get(member.store) is member:
            del self.members[member.store]
        else:
            return
        now = self.env.now
        self.recorder.event(
            now,
            "detected_down",
            member.store,
            orders=member.owned,
            detection_delay=now - member.crashed_at,
        )
        self.trigger()

    def _check(self) -> None:
        """Complete the rebalance `rebalance_time` from now once no member is awaited."""
        if not self.rebalancing or self.completing or self.ghosts or not self.reachable:
            return
        if any(not member.alive for member in self.members.values()):
            return
        self.completing = True
        event = At(self.env, self.env.now + self.spec.rebalance_time, POLL)
        event.round = self.round
        event.callbacks.append(self._complete)

    def _complete(self, event: At) -> None:
        if event.round != self.round:
            return  # the cluster went down meanwhile: `up` starts the join and sync over
        self.rebalancing = self.completing = False
        self.on_complete(self.env.now, sorted(self.members))
