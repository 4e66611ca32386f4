"""The login form."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator


class LoginForm(AuthenticationForm):
    """Django's login form, with the username's length checked.

    AuthenticationForm sets the field's max_length after building it, so no validator
    checks it: a longer name went on to authenticate(), and django-axes's record of
    the failure (a 255-character column) failed on PostgreSQL with a 500.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length))
