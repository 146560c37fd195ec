"""Who does an operation: a user, a device, or the system (jobs)."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Device, User


@dataclass(frozen=True)
class Actor:
    """The author recorded on ticket events."""

    user: User | None = None
    device: Device | None = None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None

    @property
    def device_id(self) -> int | None:
        return self.device.id if self.device is not None else None


SYSTEM = Actor()
