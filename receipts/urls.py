from django.urls import path, re_path

from receipts import views
from receipts.reports.urls import urlpatterns as report_urlpatterns

urlpatterns = [
    re_path(r"^(?P<reference>[0-9]{12})/$", views.receipt_preview, name="receipt"),
    re_path(r"^(?P<reference>[0-9]{12})\.pdf$", views.receipt_pdf, name="receipt_pdf"),
    re_path(r"^(?P<reference>[0-9]{12})/print/$", views.receipt_print, name="receipt_print"),
    path("prints/<str:token>.pdf", views.receipt_print_pdf, name="receipt_print_pdf"),
    *report_urlpatterns,
]
verify_urlpatterns = [path("r/<str:token>", views.receipt_verify, name="receipt_verify")]
