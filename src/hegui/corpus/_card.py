"""The dataset card: README.md (Hugging Face card metadata) and croissant.json (RAI).

Both are built from summary.json and the input list, so they describe exactly the
corpus that was scanned: its sources, sizes, what personal information was found and
masked, and the gate results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import yaml

_SIZES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
]

_BODY = """
# {{ s.corpus.name }} {{ s.corpus.version }}

{{ s.corpus.description }}

Owner: {{ s.corpus.owner }}. Checked with hegui under policy {{ s.policy.id }}
{{ s.policy.version }}: verdict **{{ s.verdict }}**.

## Sources

| source | origin | licence | legal basis | collected | language | documents | annotation |
|---|---|---|---|---|---|---|---|
{% for src in s.sources -%}
| {{ cell(src.id) }} | {{ cell(src.origin) }} | {{ cell(src.license) }} | {{ src.legal_basis }} \
| {{ src.collected }} | {{ src.language | join(", ") }} | {{ src.docs }} | {{ src.annotation }} |
{% endfor %}
## Data collection

{{ rai.dataCollection }}

## Annotation

{{ rai.dataAnnotationProtocol }}

## Personal and sensitive information

{{ rai.personalSensitiveInformation }}

## Processing

{{ rai.dataPreprocessingProtocol }}

## Biases

{{ rai.dataBiases }}

## Limitations

{{ rai.dataLimitations }}

## Safety gates (GB/T 45654)

| check | value | result |
|---|---|---|
{% for c in s.checks -%}
| {{ cell(c.name) }} | {{ '' if c.value is none else ('%.4g' % c.value) }} \
| {{ 'pending' if c.passed is none else ('pass' if c.passed else 'fail') }} |
{% endfor %}
"""

_ENV = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)
_TEMPLATE = _ENV.from_string(_BODY)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _size_category(docs: int) -> str:
    for limit, label in _SIZES:
        if docs < limit:
            return label
    return "n>1B"


def _pii_text(summary: dict[str, Any]) -> str:
    found: dict[str, int] = {}
    for src in summary["sources"]:
        for key, n in src["pii"].items():
            found[key] = found.get(key, 0) + n
    if not found:
        return "The PII detector found no personal information of the kinds the policy lists."
    parts = [f"{k.split('|')[0]} ({n}, {k.split('|')[1]})" for k, n in sorted(found.items())]
    return (
        "Personal information found by hegui's PII detector (kind, count, action): "
        + "; ".join(parts)
        + ". Masked values are replaced by '*' in the cleaned shards; documents the "
        "policy blocks are excluded. Sensitive human attributes are not measured."
    )


def _note(text: str, lead: str) -> str:
    return lead + text if text else ""


def rai_fields(summary: dict[str, Any]) -> dict[str, str]:
    """The Croissant RAI properties, as plain text."""
    sources = summary["sources"]
    card = summary["corpus"]["card"]
    collection = " ".join(
        f"{s['id']}: {s['origin']} (collected {s['collected']}, licence {s['license']}, "
        f"legal basis {s['legal_basis']}{_note(s['legal_basis_note'], ': ')})."
        for s in sources
    )
    annotation = " ".join(
        f"{s['id']}: {s['annotation']}{_note(s['annotation_note'], ' - ')}." for s in sources
    )
    d = summary["dedup"]
    process = (
        f"Every document was scanned with hegui detectors {', '.join(summary['detectors'])} "
        f"under policy {summary['policy']['id']} {summary['policy']['version']}; documents "
        "with a blocking finding were set apart, personal information was masked as the "
        f"policy asks; exact duplicates and near-duplicates (MinHash, {d['num_perm']} "
        f"permutations, Jaccard >= {d['threshold']}) were listed."
    )
    limits = card["limitations"]
    unread = summary["unread"]
    if unread["records"] or unread["files"]:
        limits += (
            f" {unread['records']} records and {unread['files']} files could not be read "
            "and were not checked."
        )
    langs = ", ".join(f"{s['id']} {_pct(s['mostly_cjk_share'])} mostly CJK" for s in sources)
    return {
        "dataCollection": collection,
        "dataCollectionRawData": "; ".join(s["origin"] for s in sources),
        "dataCollectionTimeframe": _timeframe([s["collected"] for s in sources]),
        "dataAnnotationProtocol": annotation,
        "dataPreprocessingProtocol": process,
        "personalSensitiveInformation": _pii_text(summary),
        "dataBiases": (card["biases"] + f" Measured script mix: {langs}.").strip(),
        "dataLimitations": limits.strip(),
        "dataUseCases": card["use_cases"],
        "dataReleaseMaintenancePlan": card["maintenance"],
        "dataSocialImpact": card["social_impact"],
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _timeframe(periods: list[str]) -> str:
    starts = sorted(p.split("/")[0] for p in periods)
    ends = sorted(p.split("/")[-1] for p in periods)
    return starts[0] if starts[0] == ends[-1] else f"{starts[0]}/{ends[-1]}"


def card_metadata(summary: dict[str, Any]) -> dict[str, Any]:
    """The YAML front matter of the Hugging Face dataset card."""
    sources = summary["sources"]
    langs = sorted({lang for s in sources for lang in s["language"]})
    return {
        "pretty_name": f"{summary['corpus']['name']} {summary['corpus']['version']}",
        "license": sorted({s["license"].lower() for s in sources}),
        "language": langs,
        "multilinguality": "multilingual" if len(langs) > 1 else "monolingual",
        "size_categories": [_size_category(summary["totals"]["docs"])],
        "annotations_creators": sorted({s["annotation"] for s in sources}),
        "source_datasets": ["original"],
        "task_categories": ["text-generation"],
        "tags": ["hegui", f"policy-{summary['policy']['id']}", f"verdict-{summary['verdict']}"],
    }


def croissant(summary: dict[str, Any], files: list[dict[str, Any]]) -> dict[str, Any]:
    """A Croissant 1.0 dataset description with the RAI extension's fields."""
    rai = {f"rai:{k}": v for k, v in rai_fields(summary).items() if v}
    return {
        "@context": {
            "@language": "en",
            "@vocab": "https://schema.org/",
            "cr": "http://mlcommons.org/croissant/",
            "rai": "http://mlcommons.org/croissant/RAI/",
            "dct": "http://purl.org/dc/terms/",
            "sc": "https://schema.org/",
            "conformsTo": "dct:conformsTo",
            "sha256": "cr:sha256",
        },
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": summary["corpus"]["name"],
        "version": summary["corpus"]["version"],
        "description": summary["corpus"]["description"] or summary["corpus"]["name"],
        "creator": {"@type": "sc:Person", "name": summary["corpus"]["owner"]},
        "license": sorted({s["license"] for s in summary["sources"]}),
        "inLanguage": sorted({lang for s in summary["sources"] for lang in s["language"]}),
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": f["rel"],
                "name": f["rel"],
                "contentUrl": f["rel"],
                "contentSize": f"{f['bytes']} B",
                "encodingFormat": _mime(f["format"]),
                "sha256": f["sha256"],
            }
            for f in files
        ],
        **rai,
    }


def _mime(fmt: str) -> str:
    return {
        "jsonl": "application/jsonlines",
        "parquet": "application/x-parquet",
        "csv": "text/csv",
    }.get(fmt, "text/plain")


def write_card(summary: dict[str, Any], files: list[dict[str, Any]], out: Path) -> None:
    """Write README.md (card) and croissant.json into the run directory."""
    meta = yaml.safe_dump(card_metadata(summary), allow_unicode=True, sort_keys=False)
    body = _TEMPLATE.render(s=summary, rai=rai_fields(summary), cell=_cell)
    (out / "README.md").write_text(f"---\n{meta}---\n{body}", encoding="utf-8")
    doc = croissant(summary, files)
    (out / "croissant.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8"
    )
