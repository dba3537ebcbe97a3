import pytest

from helpers import compare
from helpers.source import source_text


def test_source_text_names_the_file_and_shows_the_code():
    text = source_text(compare.times)
    assert text.startswith("`times` from `helpers/compare.py`:")
    assert "```python\ndef times(" in text and text.endswith("```")


def test_source_text_rejects_what_has_no_source():
    with pytest.raises(TypeError, match="cannot show the source of"):
        source_text(len)
    with pytest.raises(ValueError):
        source_text()
