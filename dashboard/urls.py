from django.urls import path

from dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("branches/<str:code>/", views.branch_detail, name="branch"),
]
