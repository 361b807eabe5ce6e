"""The billing import: a folder of CSV files (``docs/import-format.md``) loaded all or
nothing. ``flask --app ov import-billing DIR`` runs it; :func:`run_import` is the API."""

from ov.services.billing_import.engine import (
    BUSY_MESSAGE,
    Counts,
    ImportBusy,
    ImportFailed,
    Progress,
    Summary,
    run_import,
)
from ov.services.billing_import.reader import Problem, Problems

__all__ = ["BUSY_MESSAGE", "Counts", "ImportBusy", "ImportFailed", "Problem", "Problems",
           "Progress", "Summary", "run_import"]
