"""Websocket routes. The dashboard app fills them; nothing else imports it."""

from dashboard.routing import websocket_urlpatterns as dashboard_routes

websocket_urlpatterns = [*dashboard_routes]
