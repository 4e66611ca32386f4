from receipts.models.receipts import Receipt
from receipts.models.settlement import PublicHoliday, SettlementBatch, SettlementItem

__all__ = ["PublicHoliday", "Receipt", "SettlementBatch", "SettlementItem"]
