"""``Policy``: one immutable, validated pack, with look-ups over its taxonomy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NoReturn

from hegui.policy._base import LocalizedText
from hegui.policy._checks import ancestors
from hegui.policy._crosswalk import Crosswalk, lookup
from hegui.policy._labels import LabelSpec
from hegui.policy._regional import EUSection, Filing, USSection
from hegui.policy._sections import (
    AbuseRules,
    Banks,
    CorpusRules,
    DetectorSpec,
    Incidents,
    LexiconRules,
    Normalization,
    PrincipalRules,
    Retention,
    Risk,
    Thresholds,
    ToolRules,
)
from hegui.policy._spec import PackSpec, Reference


def _no_crosswalks() -> Sequence[Crosswalk]:
    return ()


class Policy:
    """A loaded policy pack: every threshold, clock, label and risk id as data.

    Build one with ``load_policy``. Attributes are read-only; sections a pack does not
    have are ``None`` (the ``us`` pack has no ``banks``, for instance).
    """

    __slots__ = ("_children", "_crosswalks", "_files", "_lineage", "_risks", "_source", "_spec")

    _spec: PackSpec
    _source: Path
    _files: tuple[Path, ...]
    _lineage: tuple[str, ...]
    _crosswalks: Callable[[], Sequence[Crosswalk]]
    _risks: Mapping[str, Risk]
    _children: Mapping[str, tuple[Risk, ...]]

    def __init__(
        self,
        spec: PackSpec,
        *,
        source: Path,
        files: tuple[Path, ...] = (),
        lineage: tuple[str, ...] = (),
        crosswalks: Callable[[], Sequence[Crosswalk]] = _no_crosswalks,
    ) -> None:
        children: dict[str, list[Risk]] = {risk.id: [] for risk in spec.taxonomy}
        for risk in spec.taxonomy:
            if risk.parent is not None:
                children[risk.parent].append(risk)
        init = object.__setattr__
        init(self, "_spec", spec)
        init(self, "_source", source)
        init(self, "_files", files or (source,))
        init(self, "_lineage", lineage or (spec.id,))
        init(self, "_crosswalks", crosswalks)
        init(self, "_risks", MappingProxyType({risk.id: risk for risk in spec.taxonomy}))
        init(self, "_children", MappingProxyType({k: tuple(v) for k, v in children.items()}))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Policy is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Policy is immutable; cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"Policy(id={self.id!r}, version={self.version!r}, risks={len(self._risks)})"

    # -- identity -------------------------------------------------------------------

    @property
    def spec(self) -> PackSpec:
        """The validated, merged pack model."""
        return self._spec

    @property
    def id(self) -> str:
        """Pack id."""
        return self._spec.id

    @property
    def version(self) -> str:
        """Pack version."""
        return self._spec.version

    @property
    def name(self) -> LocalizedText:
        """Display name."""
        return self._spec.name

    @property
    def description(self) -> str:
        """What the pack is for."""
        return self._spec.description

    @property
    def extends(self) -> str | None:
        """What this pack's file extends, as written."""
        return self._spec.extends

    @property
    def source(self) -> Path:
        """The ``pack.yaml`` this policy was loaded from."""
        return self._source

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file merged into this policy, most derived first."""
        return self._files

    @property
    def lineage(self) -> tuple[str, ...]:
        """This pack's id followed by the ids of the packs it extends."""
        return self._lineage

    @property
    def references(self) -> tuple[Reference, ...]:
        """Standards and laws the pack implements."""
        return tuple(self._spec.references)

    # -- sections -------------------------------------------------------------------

    @property
    def normalization(self) -> Normalization:
        """Text folding settings for the detection engine."""
        return self._spec.normalization

    @property
    def detectors(self) -> Mapping[str, DetectorSpec]:
        """Detector name -> settings (read-only)."""
        return MappingProxyType(self._spec.detectors)

    @property
    def risks(self) -> Mapping[str, Risk]:
        """Risk id -> risk, groups included, in taxonomy order (read-only)."""
        return self._risks

    @property
    def thresholds(self) -> Thresholds | None:
        """Assessment pass marks."""
        return self._spec.thresholds

    @property
    def banks(self) -> Banks | None:
        """Question bank minimums."""
        return self._spec.banks

    @property
    def lexicon(self) -> LexiconRules | None:
        """Keyword library minimums."""
        return self._spec.lexicon

    @property
    def corpus(self) -> CorpusRules | None:
        """Training-data gates."""
        return self._spec.corpus

    @property
    def abuse(self) -> AbuseRules | None:
        """User suspension rules."""
        return self._spec.abuse

    @property
    def principals(self) -> PrincipalRules | None:
        """Who may use the service."""
        return self._spec.principals

    @property
    def tools(self) -> ToolRules | None:
        """Tool allowlist for the gateway."""
        return self._spec.tools

    @property
    def retention(self) -> Retention | None:
        """Log retention."""
        return self._spec.retention

    @property
    def incidents(self) -> Incidents | None:
        """Incident reporting clocks."""
        return self._spec.incidents

    @property
    def labels(self) -> LabelSpec | None:
        """Content labeling."""
        return self._spec.labels

    @property
    def filing(self) -> Filing | None:
        """Algorithm filing (China)."""
        return self._spec.filing

    @property
    def eu(self) -> EUSection | None:
        """EU AI Act obligations."""
        return self._spec.eu

    @property
    def us(self) -> USSection | None:
        """US export-control screening."""
        return self._spec.us

    # -- taxonomy -------------------------------------------------------------------

    def risk(self, risk_id: str) -> Risk:
        """Return the risk with this id.

        Raises:
            KeyError: the pack's taxonomy has no such id.
        """
        try:
            return self._risks[risk_id]
        except KeyError:
            raise KeyError(
                f"pack {self.id!r} has no risk {risk_id!r} "
                f"({len(self._risks)} risks, e.g. {', '.join(list(self._risks)[:5])})"
            ) from None

    def children(self, group_id: str) -> list[Risk]:
        """Return the direct children of a group (empty for a leaf risk)."""
        self.risk(group_id)
        return list(self._children[group_id])

    def leaf_risks(self) -> list[Risk]:
        """Return the risks that have no children, in taxonomy order."""
        return [risk for risk in self._risks.values() if not self._children[risk.id]]

    def ancestors(self, risk_id: str) -> list[str]:
        """Return the ids of the groups above a risk, nearest first."""
        self.risk(risk_id)
        return ancestors(risk_id, {risk.id: risk.parent for risk in self._risks.values()})

    def lexicon_minimum(self, risk_id: str) -> int:
        """Minimum number of lexicon terms for a risk (0 when the pack sets none)."""
        found = self.ancestors(risk_id)
        return 0 if self.lexicon is None else self.lexicon.minimum_for(risk_id, found)

    def bank_minimum(self, bank: Literal["generation", "should_refuse"], risk_id: str) -> int:
        """Minimum number of questions for a risk in a bank (0 when the pack sets none)."""
        found = self.ancestors(risk_id)
        if self.banks is None:
            return 0
        table = self.banks.generation if bank == "generation" else self.banks.should_refuse
        return table.minimum_for(risk_id, found)

    def crosswalk(self, risk_id: str) -> dict[str, list[str]]:
        """Return other pack id -> its risk ids that correspond to ``risk_id``.

        Raises:
            KeyError: the pack's taxonomy has no such id.
            PolicyError: a shipped crosswalk file is broken.
        """
        self.risk(risk_id)
        return lookup(self._crosswalks(), self._lineage, risk_id)

    def to_dict(self) -> dict[str, Any]:
        """The merged pack as plain JSON-ready data (what ``hegui policy show`` prints)."""
        return self._spec.model_dump(mode="json")
