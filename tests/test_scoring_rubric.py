"""Rubric files: default content, content-hash versions, precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualibench.errors import QualibenchError
from qualibench.resources import data_dir
from qualibench.scorer.rubric import load_rubric

DEFAULT = data_dir("scoring") / "rubrics" / "default.yaml"


def test_default_rubric_has_the_five_criteria_summing_to_100():
    rubric = load_rubric()
    assert {c: rubric.weight(c) for c in rubric.criteria} == {
        "relevance": 40, "reformulation": 20, "empathy": 20, "personalisation": 10, "politeness": 10}
    assert set(rubric.lexicons) == {"fr", "en"}
    assert len(rubric.version) == 16 and rubric.version == load_rubric("default").version


def test_version_follows_content_not_path(tmp_path: Path):
    copy = tmp_path / "copy.yaml"
    copy.write_text(DEFAULT.read_text())
    assert load_rubric(copy).version == load_rubric().version
    changed = tmp_path / "changed.yaml"
    changed.write_text(DEFAULT.read_text().replace("marker: 0.15", "marker: 0.2"))
    assert load_rubric(changed).version != load_rubric().version


def test_version_covers_the_lexicons(tmp_path: Path):
    lex = tmp_path / "fr-custom.yaml"
    lex.write_text((data_dir("scoring") / "lexicons" / "fr.yaml").read_text() + "\n# edited\n")
    rubric = tmp_path / "r.yaml"
    rubric.write_text(DEFAULT.read_text().replace("lexicons: {fr: fr, en: en}", "lexicons: {fr: fr-custom.yaml, en: en}"))
    assert load_rubric(rubric).version != load_rubric().version


def test_weights_not_summing_to_100_name_file_criterion_and_sum(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT.read_text().replace("    weight: 20\n    marker", "    weight: 25\n    marker"))
    with pytest.raises(QualibenchError) as err:
        load_rubric(bad)
    msg = err.value.message
    assert "bad.yaml" in msg and "sum to 105" in msg and "reformulation 25" in msg
    assert "+5" in err.value.hint


@pytest.mark.parametrize("text, words", [
    ("criteria:\n  charisma: {weight: 100}\n", ["charisma", "unknown"]),
    ("criteria:\n  relevance: {weight: -5}\n", ["relevance", "-5"]),
    ("criteria:\n  relevance: {weight: 100}\npenalties:\n  marketing: {criterion: empathy, points: 3}\n",
     ["marketing", "empathy"]),
    ("criteria: [", ["YAML"]),
])
def test_malformed_rubrics_are_refused_precisely(tmp_path: Path, text, words):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(QualibenchError) as err:
        load_rubric(path)
    assert all(w in err.value.message for w in words), err.value.message
    assert err.value.hint


def test_unknown_rubric_name_lists_the_known_ones():
    with pytest.raises(QualibenchError) as err:
        load_rubric("no-such-rubric")
    assert "default" in err.value.hint
