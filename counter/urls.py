"""The counter's URLs; each area's views module lists its own patterns."""

from django.urls import path

from counter.views import catalog, citizens, home, payments

app_name = "counter"
urlpatterns = [
    path("", home.home, name="home"),
    *citizens.urlpatterns,
    *catalog.urlpatterns,
    *payments.urlpatterns,
]
