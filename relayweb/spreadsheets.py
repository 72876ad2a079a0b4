"""CSV that is safe to open in a spreadsheet.

A cell that starts with = + - @ (or a tab or carriage return, which some spreadsheets skip before
reading one of those) is run as a formula by Excel, LibreOffice and Google Sheets: a file name such
as `=HYPERLINK(...)` in an export would then act on the reader's machine. Text from users is
prefixed with a single quote (OWASP's advice), which spreadsheets show as text; numbers are written
as they are, so a negative number stays a number.
"""

from __future__ import annotations

import csv
import io

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_document(header: list[str], rows) -> str:
    """A CSV document with every text cell of `rows` neutralised (see above)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
