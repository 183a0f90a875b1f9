"""A script-free copy of an archived page for the sandboxed HTML view.

lxml's cleaner drops scripts, event handlers, ``javascript:`` URLs, forms, frames, embedded
objects and styles; every remaining link or image source is removed as well, so the view
makes no request anywhere (its CSP also forbids any, and its iframe runs sandboxed).
"""

from __future__ import annotations

from lxml import html
from lxml.etree import ParserError
from lxml_html_clean import Cleaner

_cleaner = Cleaner(
    scripts=True, javascript=True, comments=True, style=True, inline_style=True, links=True,
    meta=True, page_structure=False, processing_instructions=True, embedded=True, frames=True,
    forms=True, annoying_tags=True, remove_unknown_tags=True, safe_attrs_only=True,
    kill_tags={"base"},
)
_URL_ATTRIBUTES = ("href", "src", "srcset", "action", "formaction", "background", "poster",
                   "cite", "longdesc", "usemap", "data", "codebase", "ping")
EMPTY = "<p>(the archived page has no readable HTML)</p>"


def sanitized_html(body: bytes | str) -> str:
    """The page's HTML with everything active or remote removed, as a fragment."""
    if not body.strip():
        return EMPTY
    try:
        document = html.document_fromstring(body)
    except (ParserError, ValueError):
        return EMPTY
    cleaned = _cleaner.clean_html(document)
    for element in cleaned.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in _URL_ATTRIBUTES:
            if attribute in element.attrib:
                # Keep where a link pointed as plain text; never let the browser follow it.
                if attribute == "href" and element.tag == "a":
                    element.set("title", element.attrib["href"][:500])
                del element.attrib[attribute]
    body = cleaned.find("body") if cleaned.tag != "body" else cleaned
    if body is None:
        return EMPTY
    inner = (body.text or "").replace("&", "&amp;").replace("<", "&lt;")
    inner += "".join(html.tostring(child, encoding="unicode", method="html") for child in body)
    return inner or EMPTY
