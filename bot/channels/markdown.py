"""The bot's text as Markdown that shows exactly that text, line breaks included.

The usual Rasa web widgets (botfront's ``rasa-webchat``, and others built on
react-markdown) render what the socket.io channel sends as Markdown. The
bot's texts are plain: lines split by a single ``\\n`` (which Markdown joins
into one paragraph), and now and then characters Markdown reads as markup
(``138****5678``, a line starting with ``1.`` or ``-``, or whatever a user typed
that a reply quotes: ``[link](javascript:...)``). :func:`as_markdown` makes
every line break a hard break (two spaces before it) and escapes the rest,
so such a widget shows the text as it is.

Only escapes that react-markdown 4's parser (remark, GFM mode, not CommonMark
mode) undoes are used: a backslash before ``\\ ` * _ [ ] ~ | # > + - . )``,
and ``&amp;``, ``&lt;`` and numeric references for the rest. Every backslash
and ``&`` of the text is escaped too, so the encoding is reversible: our own
widget (bot/web/static/widget.js, ``plainText``) takes it off again and
shows the text exactly as before.
"""

from __future__ import annotations

import re

HARD_BREAK = "  \n"
# Anywhere in a line: emphasis, code, links, strike-through, tables; the escape itself.
_INLINE = re.compile(r"([\\`*_\[\]~|])")
# At a line's start: headings, quotes, lists (``-``, ``+``, ``1.``, ``1)``).
_BLOCK_MARK = re.compile(r"^([#>+-]|\d{1,9}[.)])")
_LEADING_WHITESPACE = re.compile(r"^[ \t]+")


def as_markdown(text: str) -> str:
    """``text`` as Markdown that renders as exactly ``text``, each line on its own line."""
    return HARD_BREAK.join(_line_as_markdown(line) for line in text.split("\n"))


def _line_as_markdown(line: str) -> str:
    # "&" first: the references added below must stay references.
    line = _INLINE.sub(r"\\\1", line.replace("&", "&amp;").replace("<", "&lt;"))
    # Indentation would make a code block; as references it is only text.
    indent = _LEADING_WHITESPACE.match(line)
    body = line[indent.end() :] if indent else line
    block = _BLOCK_MARK.match(body)
    if block:
        mark = block.group(1)
        body = mark[:-1] + "\\" + mark[-1] + body[len(mark) :]
    elif body.startswith("="):
        # A line of "=" under text is a heading; "\=" is no escape in GFM mode.
        body = "&#61;" + body[1:]
    return "".join(f"&#{ord(character)};" for character in indent.group(0)) + body if indent else body
