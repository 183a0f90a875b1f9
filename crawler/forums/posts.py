"""Verdicts of forum posts, and of a thread page by its posts (see ``crawler.forums.pipeline``).

Plain functions of a model and a page, so the analysis workers and the in-process pipeline
judge posts the same way.
"""

from __future__ import annotations

from dataclasses import replace

from classifiers import Document, PageVerdict, TrawlerModel
from crawler.forums import ForumPage

# A post is short: it is flagged only at this score or above (and the model's threshold).
POST_THRESHOLD = 0.9


def post_reason(position: int, author: str | None, score: float) -> dict[str, object]:
    who = f" by {author}" if author else ""
    return {"feature": "forum_post", "term": f"post {position + 1}{who}",
            "weight": round(score, 4)}


def classify_posts(model: TrawlerModel, forum: ForumPage, url: str, lang: str | None,
                   threshold: float) -> PageVerdict | None:
    """Give each post of a forum page its verdict; return the page's new verdict (that of its
    most selling flagged post, which its reasons name), or None when no post is flagged."""
    docs = [Document(text=post.text, url=f"{url}#post-{post.key or post.position}", lang=lang)
            for post in forum.posts]
    verdicts = model.classify(docs)
    for post, verdict in zip(forum.posts, verdicts, strict=True):
        post.label, post.score, post.reasons = verdict.label, verdict.score, verdict.reasons
        post.flagged = verdict.label == "drugs" and verdict.score >= threshold
    flagged = [i for i, post in enumerate(forum.posts) if post.flagged]
    if not flagged:
        return None
    best = max(flagged, key=lambda i: verdicts[i].score)
    top, post = verdicts[best], forum.posts[best]
    return replace(top, reasons=[post_reason(post.position, post.author, top.score),
                                 *top.reasons])
