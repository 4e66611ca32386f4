"""The governorate codes used in digits 8-9 of the Egyptian national ID.

The codes are those of the Civil Status Organization; 88 marks a citizen
born abroad. Loaded into the Governorate table by a data migration.
"""

GOVERNORATES: list[tuple[str, str, str]] = [
    ("01", "القاهرة", "Cairo"),
    ("02", "الإسكندرية", "Alexandria"),
    ("03", "بورسعيد", "Port Said"),
    ("04", "السويس", "Suez"),
    ("11", "دمياط", "Damietta"),
    ("12", "الدقهلية", "Dakahlia"),
    ("13", "الشرقية", "Sharqia"),
    ("14", "القليوبية", "Qalyubia"),
    ("15", "كفر الشيخ", "Kafr El Sheikh"),
    ("16", "الغربية", "Gharbia"),
    ("17", "المنوفية", "Monufia"),
    ("18", "البحيرة", "Beheira"),
    ("19", "الإسماعيلية", "Ismailia"),
    ("21", "الجيزة", "Giza"),
    ("22", "بني سويف", "Beni Suef"),
    ("23", "الفيوم", "Fayoum"),
    ("24", "المنيا", "Minya"),
    ("25", "أسيوط", "Asyut"),
    ("26", "سوهاج", "Sohag"),
    ("27", "قنا", "Qena"),
    ("28", "أسوان", "Aswan"),
    ("29", "الأقصر", "Luxor"),
    ("31", "البحر الأحمر", "Red Sea"),
    ("32", "الوادي الجديد", "New Valley"),
    ("33", "مطروح", "Matrouh"),
    ("34", "شمال سيناء", "North Sinai"),
    ("35", "جنوب سيناء", "South Sinai"),
]
BORN_ABROAD = ("88", "مواليد خارج الجمهورية", "Born abroad")
