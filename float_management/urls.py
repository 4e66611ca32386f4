from django.urls import path

from float_management import views

app_name = "float"
urlpatterns = [
    path("session/", views.session_home, name="session"),
    path("session/open/", views.session_open, name="open"),
    path("session/top-up/", views.session_top_up, name="top_up"),
    path("session/drop/", views.session_drop, name="drop"),
    path("session/close/", views.session_close, name="close"),
    path("branch/", views.branch_home, name="branch"),
    path("branch/vault/", views.vault_move, name="vault"),
    path("vault/<int:pk>/confirm/", views.vault_confirm, name="vault_confirm"),
    path("requests/<int:pk>/decide/", views.request_decide, name="decide"),
]
