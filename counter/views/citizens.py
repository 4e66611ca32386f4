"""Views: citizens."""

urlpatterns: list = []
