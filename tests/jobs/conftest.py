"""Jobs run in this process on the real database, inside the test's rolled-back transaction."""

from tests.domain.conftest import make_user

__all__ = ["make_user"]
