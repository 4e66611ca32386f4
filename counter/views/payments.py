"""Views: payments."""

urlpatterns: list = []
