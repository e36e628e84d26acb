"""hegui.assess: the pre-release security assessment (GB/T 45654).

Question banks (format, loading, checks against a policy's minimums, importers from
public sets) and mutators (named jailbreak transforms applied to bank items).
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
from hegui.assess._compare import CompareError, Run, compare, load_run
from hegui.assess._importers import IMPORTERS, Columns, import_generic, jade_risk
from hegui.assess._mutators import MUTATORS, Mutator, apply_mutators, mutator

SHIPPED_BANKS = Path(__file__).resolve().parents[1] / "packs" / "cn" / "banks"
"""The built-in banks of the cn pack, written by the project."""

__all__ = [
    "IMPORTERS",
    "MUTATORS",
    "NEAR_DUPLICATE",
    "SHIPPED_BANKS",
    "BankError",
    "BankItem",
    "BankReport",
    "Columns",
    "CompareError",
    "Kind",
    "Mutator",
    "Run",
    "Shortfall",
    "Turn",
    "apply_mutators",
    "check_bank",
    "compare",
    "import_generic",
    "jade_risk",
    "load_bank",
    "load_run",
    "mutator",
    "near_duplicates",
    "write_bank",
]
