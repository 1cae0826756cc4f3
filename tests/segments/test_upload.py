from __future__ import annotations

import pytest

from lifetide.segments.upload import UploadError, identifiers_from_csv, identifiers_from_text


def test_the_identifier_column_is_read_whatever_its_place_and_case() -> None:
    content = b"\xef\xbb\xbfName, Identifier \nAda, ada@example.com \nBo,\nCy,c2\nshort\n"

    assert identifiers_from_csv(content) == ["ada@example.com", "c2"]


def test_an_email_column_serves_when_there_is_no_identifier_column() -> None:
    assert identifiers_from_csv(b"email,name\nada@example.com,Ada\n") == ["ada@example.com"]
    # identifier wins over email when both are there.
    assert identifiers_from_csv(b"email,identifier\nada@example.com,u1\n") == ["u1"]


def test_quoted_cells_and_crlf_lines_are_read() -> None:
    content = b'identifier,note\r\n"c1","a, b"\r\n"u 2",x\r\n'

    assert identifiers_from_csv(content) == ["c1", "u 2"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b" , \n", "the file is empty"),
        (
            b"who,name\nada@example.com,Ada\n",
            "needs a column called 'identifier' or 'email'; it has",
        ),
        (b"identifier\n\xff\xfe\n", r"not UTF-8 text \(byte 12 is not\)"),
        (b"identifier\nc1\n" + b"x" * 140_000 + b"\n", "cannot be read at line 3: field larger"),
    ],
)
def test_unreadable_files_say_what_is_wrong(content: bytes, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        identifiers_from_csv(content)


def test_the_header_names_the_columns_it_found() -> None:
    with pytest.raises(UploadError) as caught:
        identifiers_from_csv(b"who,name\n")

    assert str(caught.value).endswith("it has 'who', 'name'")


def test_text_is_one_identifier_a_line() -> None:
    text = "  ada@example.com \r\n\nc2\n   \nghost@example.com"

    assert identifiers_from_text(text) == ["ada@example.com", "c2", "ghost@example.com"]


def test_a_pasted_header_line_is_not_an_identifier() -> None:
    assert identifiers_from_text("Email\nada@example.com\n") == ["ada@example.com"]
    assert identifiers_from_text("identifier\n") == []
    assert identifiers_from_text("") == []
