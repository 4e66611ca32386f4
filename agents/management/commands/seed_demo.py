"""Build the demo network and play a sample day, idempotently.

Each installed app of ours may have a `demo` module with a `seed(ctx)`
function; they run in INSTALLED_APPS order, which is the order of the
dependencies (network, then money, then the counter's work, ...), so this
command needs to import none of them by name.
"""

from importlib import import_module
from importlib.util import find_spec
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from agents.demo import DemoContext

DEFAULT_PASSWORD = "counter-demo-2026"


class Command(BaseCommand):
    help = "Create (or bring up to date) the demo network, people and sample day."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=DEFAULT_PASSWORD,
            help=f"password of every demo login (default: {DEFAULT_PASSWORD})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ctx = DemoContext(password=options["password"], stdout=self.stdout)
        local = {str(settings.BASE_DIR)}
        for config in apps.get_app_configs():
            if not any(str(config.path).startswith(root) for root in local):
                continue
            module_name = f"{config.name}.demo"
            if find_spec(module_name) is None:
                continue
            # Not wrapped in one transaction: each service commits on its own (and sends
            # its SMS on commit), and every step is idempotent, so a rerun completes.
            import_module(module_name).seed(ctx)
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password: {ctx.password}):")
        width = max(len(u) for u, _, _ in ctx.logins)
        for username, role, where in ctx.logins:
            self.stdout.write(f"  {username.ljust(width)}  {role}  {where}")
