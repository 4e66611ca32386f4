from django.urls import path

from settlement import views

urlpatterns = [
    path("", views.settlement_list, name="settlement_list"),
    path("run/", views.settlement_run, name="settlement_run"),
    path("<int:pk>/", views.settlement_confirmation, name="settlement_confirmation"),
    path("<int:pk>/csv/", views.settlement_csv, name="settlement_csv"),
]
