"""Websocket routes of the live dashboards."""

from django.urls import path, re_path

from dashboard.consumers import BoardConsumer

websocket_urlpatterns = [
    path("ws/dashboard/nation/", BoardConsumer.as_asgi(), {"kind": "nation"}),
    re_path(
        r"^ws/dashboard/(?P<kind>branch|governorate)/(?P<ident>[0-9A-Za-z_-]{1,12})/$",
        BoardConsumer.as_asgi(),
    ),
]
