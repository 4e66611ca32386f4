"""The one lock around ReportLab's shared font: every PDF of the app is drawn under it.

ReportLab's TrueType fonts keep each document's glyph subsets on the shared font
object, so two PDFs rendered at once in two threads (Django runs sync views in
several threads under ASGI) corrupt each other's subset (a KeyError in makeSubset,
seen under load). Rendering is CPU-bound under the GIL anyway: one at a time.

The receipts and the daily report's PDF embed the same Amiri face (receipts.arabic),
so both hold this lock while they draw.
"""

from __future__ import annotations

import threading

render_lock = threading.Lock()
