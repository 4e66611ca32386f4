"""Websocket routes of the live dashboards."""

websocket_urlpatterns: list = []
