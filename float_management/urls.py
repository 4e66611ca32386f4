app_name = "float"
urlpatterns: list = []
