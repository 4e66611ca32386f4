from django.urls import path

from receipts.reports import views

urlpatterns = [
    path("reports/session/<int:pk>/", views.session_report, name="report_session"),
    path("reports/branch/<str:code>/", views.report_branch, name="report_branch"),
    path("reports/governorate/<str:code>/", views.report_governorate, name="report_governorate"),
    path("reports/national/", views.report_national, name="report_national"),
]
