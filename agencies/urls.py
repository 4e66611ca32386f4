from django.urls import path

from agencies import views

app_name = "agencies"

urlpatterns = [
    path("inquiry/<str:code>/", views.inquiry, name="inquiry"),
]
