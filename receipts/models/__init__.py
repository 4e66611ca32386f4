from receipts.models.receipts import Receipt, ReceiptPrint

__all__ = ["Receipt", "ReceiptPrint"]
