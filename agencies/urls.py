from django.urls import path

from agencies import views, webhooks

app_name = "agencies"
urlpatterns = [
    path("inquiry/<str:code>/", views.inquiry, name="inquiry"),
    path("webhook/<str:agency_code>/status/", webhooks.status_webhook, name="status_webhook"),
    path("refunds/", views.refunds, name="refunds"),
    path("refunds/payout/", views.refund_payout, name="refund_payout"),
]
