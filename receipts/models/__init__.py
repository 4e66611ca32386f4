from receipts.models.receipts import Receipt, ReceiptPrint
from receipts.models.settlement import PublicHoliday, SettlementBatch, SettlementItem

__all__ = ["PublicHoliday", "Receipt", "ReceiptPrint", "SettlementBatch", "SettlementItem"]
