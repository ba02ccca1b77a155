"""An in-app body as safe HTML: Markdown rendered by markdown-it-py (raw HTML in the text is not passed
through) and then sanitised by nh3 (Ammonia), so no script, handler or javascript: link survives either way."""

import nh3
from markdown_it import MarkdownIt

# CommonMark with raw HTML off; tables and strikethrough as GitHub writes them. Links are checked by
# markdown-it (no javascript:, vbscript:, file: or data: other than images) and again by nh3.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"])

ALLOWED_TAGS = {"p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a",
                "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}


def markdown_to_html(text: str) -> str:
    """The body rendered and sanitised; links open outside the app's page and tell the browser so."""
    return nh3.clean(_MARKDOWN.render(text), tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow",
                     filter_style_properties={"text-align"}).strip()
