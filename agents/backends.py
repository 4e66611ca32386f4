"""The login backend: Django's ModelBackend, reading a request's user with their profile.

Every view asks the permission helper for the person's role and scope
(`user.profile`); loading both in one query saves a round trip on every request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class ProfileBackend(ModelBackend):
    def get_user(self, user_id: int) -> User | None:
        user = (
            get_user_model()._default_manager.select_related("profile").filter(pk=user_id).first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None
