"""The project's URLs plus one view that fails, to see the 500 page as production shows it."""

from django.urls import path

from config import urls


def boom(request):
    raise RuntimeError("a bug nobody caught")


urlpatterns = [*urls.urlpatterns, path("boom/", boom)]
handler400 = urls.handler400
handler403 = urls.handler403
