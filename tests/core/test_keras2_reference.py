"""docs/keras2.md is generated from the table of Keras 2 spellings and must not drift."""

from pathlib import Path

from lamella.keras2.reference import markdown

PAGE = Path(__file__).resolve().parents[2] / "docs" / "keras2.md"


def test_the_docs_page_is_the_table():
    assert PAGE.read_text() == markdown(), (
        "docs/keras2.md is out of date: run python -m lamella.keras2.reference > docs/keras2.md"
    )


def test_the_page_names_what_constructors_accept():
    from lamella.layers import Dense

    page = markdown()
    assert "| `units` | `output_dim` |" in page and "| `Conv2D` | `Convolution2D` |" in page
    assert Dense(units=2).output_dim == 2
