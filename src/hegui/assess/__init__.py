"""hegui.assess: the pre-release security assessment (GB/T 45654).

This part holds the question banks: their format, loading, checks against a
policy's minimums, and importers from public sets.
"""

from pathlib import Path

from hegui.assess._bank import BankError, BankItem, Kind, Turn, load_bank, write_bank
from hegui.assess._bank_check import (
    NEAR_DUPLICATE,
    BankReport,
    Shortfall,
    check_bank,
    near_duplicates,
)
from hegui.assess._importers import IMPORTERS, Columns, import_generic, jade_risk

SHIPPED_BANKS = Path(__file__).resolve().parents[1] / "packs" / "cn" / "banks"
"""The built-in banks of the cn pack, written by the project."""

__all__ = [
    "IMPORTERS",
    "NEAR_DUPLICATE",
    "SHIPPED_BANKS",
    "BankError",
    "BankItem",
    "BankReport",
    "Columns",
    "Kind",
    "Shortfall",
    "Turn",
    "check_bank",
    "import_generic",
    "jade_risk",
    "load_bank",
    "near_duplicates",
    "write_bank",
]
