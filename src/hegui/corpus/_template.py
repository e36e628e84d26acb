"""The commented manifest that ``hegui corpus init`` writes."""

from __future__ import annotations

from pathlib import Path

TEMPLATE = """\
# hegui corpus manifest: every source of one training corpus, where it came from and
# under what terms. `hegui corpus validate` checks it; `hegui corpus scan` reads it.
# Paths are relative to this file. Field reference: docs/corpus.md.

name: example-corpus            # name of the corpus
version: "2026.1"               # version of THIS corpus; bump it when the data changes
description: Mixed Chinese and English text for pre-training.
owner: data-team@example.com    # who answers for the corpus

# Statements for the dataset card (Croissant RAI fields) that no scan can measure.
card:
  biases: >-
    Web text over-represents urban, younger and male authors.
  limitations: >-
    Not checked for factual accuracy; not fit for medical or legal advice.
  use_cases: Pre-training and fine-tuning of a generative language model.
  maintenance: Rebuilt every quarter by the data team; old versions kept one year.

sources:
  - id: web-zh                          # unique; used in output file names
    path: data/web-zh/*.jsonl.gz        # file, folder or glob (** recurses); or a list
    format: jsonl                       # jsonl | parquet | csv | text | auto (by extension)
    text_field: text                    # the field with the text; dots reach into objects
    id_field: url                       # optional: the document's own id
    origin: https://example.com/crawl   # URL or description of where it came from
    license: CC-BY-4.0                  # SPDX id or licence text
    legal_basis: licence                # consent | licence | contract | statutory |
                                        # publicly-disclosed | public-interest | own-data | other
    legal_basis_note: Licence agreement 2026-014, kept by legal.
    collected: 2026-01/2026-03          # date, month, year or interval start/end
    language: [zh]                      # ISO 639 codes
    annotation: no-annotation           # no-annotation | found | crowdsourced |
                                        # expert-generated | machine-generated | other
    owner: alice@example.com

  - id: books-en
    path: data/books-en/                # a folder: every file in it
    format: text                        # one document per file (.txt, .md, .gz, .zst)
    origin: Public-domain books, digitised by the provider
    license: CC0-1.0
    legal_basis: publicly-disclosed
    collected: 2025
    language: [en]
    owner: bob@example.com

  - id: qa-pairs
    path: data/qa.parquet
    format: parquet
    text_field: answer
    origin: Question-answer pairs written by contracted annotators
    license: proprietary
    legal_basis: contract
    collected: 2026-02-15
    language: [zh, en]
    annotation: expert-generated
    annotation_note: Two annotators per item; disagreements settled by a third.
    owner: carol@example.com
"""


def write_template(path: Path, *, force: bool = False) -> Path:
    """Write the commented template to ``path``; refuse to overwrite unless ``force``.

    Raises:
        FileExistsError: ``path`` exists and ``force`` is false.
    """
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEMPLATE, encoding="utf-8")
    return path
