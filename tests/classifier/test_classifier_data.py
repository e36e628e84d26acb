from __future__ import annotations

import pytest
from conftest import DATA, needs_data

from hegui.detect._classifier_data import shipped_corpus


@pytest.mark.data
def test_evaluation_sets_never_reach_training() -> None:
    needs_data()
    corpus = shipped_corpus(DATA)
    train = {i.text for i in corpus.train}
    for name, rows in corpus.heldout.items():
        leaked = [r.text for r in rows if r.text in train]
        assert leaked == [], f"{name} leaks into training: {leaked[:3]}"
    assert len(corpus.heldout["jade_v3_violating"]) > 100
    assert len(corpus.heldout["xstest_safe"]) > 100
