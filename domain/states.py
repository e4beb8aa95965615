"""State machines as data: the allowed moves of sessions and packages."""

from __future__ import annotations

from collections.abc import Mapping

from db.enums import DeliveryStatus, SessionStatus
from domain.errors import InvalidTransition

S = SessionStatus
D = DeliveryStatus

SESSION_TRANSITIONS: Mapping[SessionStatus, frozenset[SessionStatus]] = {
    S.OPEN: frozenset({S.ACTIVE}),
    S.ACTIVE: frozenset({S.PAUSED, S.COMPLETED}),
    S.PAUSED: frozenset({S.ACTIVE, S.COMPLETED}),
    S.COMPLETED: frozenset({S.ARCHIVED}),
    S.ARCHIVED: frozenset(),
}

PACKAGE_TRANSITIONS: Mapping[DeliveryStatus, frozenset[DeliveryStatus]] = {
    D.PENDING: frozenset({D.PICKED_UP, D.DELIVERED, D.FAILED}),
    D.PICKED_UP: frozenset({D.DELIVERED, D.FAILED}),
    D.DELIVERED: frozenset(),
    D.FAILED: frozenset(),
}


def session_can(current: SessionStatus, target: SessionStatus) -> bool:
    return target in SESSION_TRANSITIONS[current]


def package_can(current: DeliveryStatus, target: DeliveryStatus) -> bool:
    return target in PACKAGE_TRANSITIONS[current]


def ensure_session_transition(current: SessionStatus, target: SessionStatus) -> None:
    if not session_can(current, target):
        raise InvalidTransition("session", current.value, target.value, code="SESSION_TRANSITION")


def ensure_package_transition(current: DeliveryStatus, target: DeliveryStatus) -> None:
    if not package_can(current, target):
        raise InvalidTransition("package", current.value, target.value, code="PACKAGE_TRANSITION")
