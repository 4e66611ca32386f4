from receipts.models.receipts import Receipt, ReceiptPrint
from receipts.models.settlement import SettlementBatch, SettlementItem

__all__ = ["Receipt", "ReceiptPrint", "SettlementBatch", "SettlementItem"]
