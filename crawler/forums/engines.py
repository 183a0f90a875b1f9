"""How each forum engine marks up its pages: detection markers, posts, and navigation links.

One ``EngineShape`` per engine, all CSS selectors; the generic shape catches hand-made boards
and engines not listed by the class names they share (post, message, author, topic, thread).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class EngineShape:
    name: str
    markers: tuple[re.Pattern[str], ...]  # any match in the HTML suggests this engine
    post: str  # one element per post
    author: str  # within a post
    time: str  # within a post; a ``datetime``/``title`` attribute wins over the text
    body: str  # within a post: the text the author wrote
    thread_links: str  # on a board: links to threads
    board_links: str  # on an index or board: links to (sub)boards
    page_links: str  # pagination of boards and threads
    thread_title: str
    post_key: str = "@id"  # an attribute of the post element naming it
    # Quoted posts and signatures are someone else's words or boilerplate, not this post's.
    skip: str = ("blockquote:not(.postcontent), .quote, .quoteheader, .quotefooter, "
                 ".bbCodeBlock--quote, .ipsQuote, .signature, .sig, .message-signature, "
                 "script, style")


def _markers(*patterns: str) -> tuple[re.Pattern[str], ...]:
    r"""Markers are matched against the lower-cased page (faster than IGNORECASE). Each starts
    with a literal, so the regex engine jumps from one occurrence to the next: a leading \b or
    look-behind would make it try every position of the page (hence "phpbb(?<!\wphpbb)\b")."""
    return tuple(re.compile(p.lower()) for p in patterns)


ENGINES: tuple[EngineShape, ...] = (
    EngineShape(
        name="phpbb",
        markers=_markers(r'<body[^>]+id="phpbb"', r"phpbb(?<!\wphpbb)\b", r"prosilver",
                         r"view(?:topic|forum)\.php\?", r'class="[^"]*\bpostbody\b'),
        post="div.post, div.postbody-wrapper",
        author=".postprofile .username, .postprofile .username-coloured, p.author a.username, "
               ".author strong, .username",
        time="p.author time, .author time, p.author",
        body="div.content",
        thread_links="a.topictitle, a[href*='viewtopic.php']",
        board_links="a.forumtitle, a[href*='viewforum.php']",
        page_links=".pagination a, a[rel='next']",
        thread_title="h2.topic-title, h2 a[href*='viewtopic.php'], h2",
    ),
    EngineShape(
        name="vbulletin",
        markers=_markers(r'<meta name="generator" content="vBulletin', r"powered by vbulletin",
                         r"showthread\.php", r'id="post_message_\d+"'),
        post="li.postcontainer, li.postbitlegacy, div[id^='edit'] table[id^='post'], "
             "div.postbit, article.b-post",
        author="a.username, .username, .bigusername, .author",
        time="span.date, .postdate, .date, time",
        body="div[id^='post_message_'], blockquote.postcontent, .postcontent, .content",
        thread_links="a[id^='thread_title_'], a.title[href*='showthread'], h3.threadtitle a, "
                     "a[href*='showthread.php'], a[href*='/threads/']",
        board_links="h2.forumtitle a, a[href*='forumdisplay.php'], .forumtitle a",
        page_links=".pagination a, .pagenav a, a[rel='next']",
        thread_title="h1, .threadtitle, span.threadtitle",
    ),
    EngineShape(
        name="xenforo",
        markers=_markers(r'<html[^>]+id="XF"', r'<html[^>]+id="XenForo"', r"xenforo",
                         r'class="[^"]*\bmessage--post\b'),
        post="article.message--post, li.message, article.message",
        author="@data-author, .message-name .username, .username, .userText a",
        time="time.u-dt, .message-attribution time, .DateTime, time",
        body=".message-body .bbWrapper, .message-content .bbWrapper, .messageText, "
             ".message-body",
        thread_links=".structItem-title a, h3.title a, a[href*='/threads/']",
        board_links=".node-title a, h3.nodeTitle a, a[href*='/forums/']",
        page_links=".pageNav-page a, .pageNav a, a.pageNav-jump--next, a[rel='next']",
        thread_title="h1.p-title-value, .titleBar h1, h1",
        post_key="@data-content, @id",
    ),
    EngineShape(
        name="smf",
        markers=_markers(r"powered by smf", r"simple machines", r'id="smfheader"',
                         r"var smf_", r"index\.php\?topic=\d+"),
        post="div.post_wrapper, div.windowbg, div.windowbg2",
        author=".poster h4 a, .poster h4, .poster a",
        time=".keyinfo .smalltext, .postinfo .smalltext, .keyinfo, time",
        body="div.post div.inner, div.inner, div.post",
        thread_links="span[id^='msg_'] a, a[href*='topic=']",
        board_links="a.subject[href*='board='], a[href*='board=']",
        page_links=".pagelinks a, a.navPages, a[rel='next']",
        thread_title="#top_subject, h2.display_title, .cat_bar h3, h1",
    ),
    EngineShape(
        name="ipb",
        markers=_markers(r"ipsApp", r"invision", r'data-role="commentContent"',
                         r"index\.php\?showtopic="),
        post="article.ipsComment, div.post_block, article[id^='elComment_']",
        author=".cAuthorPane_author a, [itemprop='author'] [itemprop='name'], "
               ".cAuthorPane_author, .author",
        time="time, .ipsType_reset time, abbr.published",
        body="[data-role='commentContent'], .post_body .post, .ipsComment_content",
        thread_links=".ipsDataItem_title a[href*='topic'], a[href*='/topic/'], "
                     "a[href*='showtopic=']",
        board_links=".ipsDataItem_title a[href*='forum'], a[href*='/forum/'], "
                    "a[href*='showforum=']",
        page_links=".ipsPagination a, a[rel='next']",
        thread_title="h1.ipsType_pageTitle, h1",
    ),
    EngineShape(
        name="discourse",
        markers=_markers(r'<meta name="generator" content="Discourse', r"discourse",
                         r'class="[^"]*\bcrawler-post\b'),
        post="div.crawler-post, div.topic-body",
        author=".creator [itemprop='name'], .creator a, .names a, .username",
        time="time.post-time, time, .crawler-post-infos meta[itemprop='datePublished']",
        body="[itemprop='text'], div.post, .cooked",
        thread_links="a.raw-topic-link, a.title[href*='/t/'], a[href*='/t/']",
        board_links="a[href*='/c/'], .category a",
        page_links="a[rel='next'], .navigation a",
        thread_title="#topic-title h1, h1",
    ),
    EngineShape(
        name="generic",
        markers=(),
        post="[class~='post'], [class~='message'], [class~='reply'], [class~='forum-post'], "
             "article[class*='post'], div[id^='post-'], div[id^='post_']",
        author="[class*='author'], [class*='poster'], [class*='username'], [class*='user-name']",
        time="time, [class*='date'], [class*='time']",
        body="[class*='content'], [class*='body'], [class*='text'], [class*='message-text']",
        thread_links="a[href*='thread'], a[href*='topic'], [class*='thread'] a, "
                     "[class*='topic'] a",
        board_links="a[href*='forum'], a[href*='board'], [class*='forum'] a, [class*='board'] a",
        page_links="a[rel='next'], [class*='pagination'] a, [class*='pager'] a, "
                   "[class*='pages'] a",
        thread_title="h1, h2",
    ),
)

BY_NAME = {shape.name: shape for shape in ENGINES}
