from django.apps import AppConfig


class ToolsConfig(AppConfig):
    name = "tools"
    # Not translated: no page shows it (no models, no admin); it names the app in listings.
    verbose_name = "Load tests and benchmarks (dev-only)"
