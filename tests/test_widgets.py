"""Tests of the shared widgets' text helpers (no Streamlit runtime needed)."""

import pytest

from ui.widgets import escape_markdown

ZERO_WIDTH_SPACE = "\u200b"


@pytest.mark.parametrize(
    ("text", "trigger"),
    [
        ("see http://127.0.0.1/x", "http://"),
        ("mirror at WWW.example.org", "WWW."),
        ("mail nurse@example.org", "nurse@example"),
    ],
)
def test_escape_markdown_breaks_autolinks(text, trigger):
    """Text that markdown would auto-link loses its contiguous trigger."""
    escaped = escape_markdown(text)

    assert trigger not in escaped.replace("\\", "")
    assert ZERO_WIDTH_SPACE in escaped


@pytest.mark.parametrize("character", list("\\`*_{}[]()<>#+-.!|~:$"))
def test_escape_markdown_escapes_control_characters(character):
    """Each markdown control character is preceded by a backslash."""
    assert escape_markdown(f"a{character}b") == f"a\\{character}b"


def test_escape_markdown_keeps_plain_text():
    """Text without markdown characters is returned unchanged."""
    assert escape_markdown("Troponin 0 ng per mL") == "Troponin 0 ng per mL"
