from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WalletConfig(AppConfig):
    name = "wallet"
    verbose_name = _("Mobile wallet")

    def ready(self) -> None:
        from audit.actions import register_actions
        from counter import methods
        from wallet.method import WalletMethod

        # The wallet is a payment method of the counter's (counter.methods), from above it:
        # its QRs, its provider and its callbacks are this app's.
        if "wallet" not in methods.registered_keys():
            methods.register(WalletMethod())
        register_actions(
            [
                ("wallet.refund_approved", _("Wallet refund approved")),
                ("wallet.refunded", _("Wallet refund confirmed by the provider")),
            ]
        )
