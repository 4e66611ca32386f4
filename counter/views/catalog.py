"""Views: catalog."""

urlpatterns: list = []
