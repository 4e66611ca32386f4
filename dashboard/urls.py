from django.urls import path

from dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("branches/<str:code>/", views.branch_detail, name="branch"),
    path("governorates/<str:code>/", views.governorate_detail, name="governorate"),
    path("nation/", views.nation, name="nation"),
    path("requests/<int:pk>/decide/", views.decide, name="decide"),
]
