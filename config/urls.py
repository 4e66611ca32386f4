from django.contrib import admin
from django.urls import include, path

from agents import views as agent_views
from config import views as site_views
from receipts.urls import verify_urlpatterns

urlpatterns = [
    path("", agent_views.home, name="home"),
    path("healthz", agent_views.healthz, name="healthz"),
    path("favicon.ico", site_views.favicon, name="favicon"),
    path("accounts/", include("agents.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("counter/", include("counter.urls")),
    path("float/", include("float_management.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("settlement/", include("settlement.urls")),
    path("wallet/", include("wallet.views")),
    path("reconciliation/", include("reconciliation.views")),
    path("agencies/", include("agencies.urls")),
    path("receipts/", include("receipts.urls")),
    path("audit/", include("audit.urls")),
    *verify_urlpatterns,
    path("admin/", admin.site.urls),
]
handler400 = "config.views.bad_request"  # in the layout, with the person's language
handler403 = "audit.views.permission_denied"  # every refused page goes into the audit log
