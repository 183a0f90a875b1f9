"""The database schema: jobs, sites, pages, verdicts, entities, reviews, custody, exports, users.

One declarative model set serves SQLite (aiosqlite) and PostgreSQL (asyncpg).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


# Review states of a site, as shown in `trawler sites` and the review queue.
UNREVIEWED, APPROVED, REJECTED, NEED_MORE = "unreviewed", "approved", "rejected", "need-more"
JOB_STATES = ("queued", "running", "paused", "finished", "failed", "stopped")


class Job(Base):
    """One crawl run: its seeds, limits, routing, state and running totals."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    seeds: Mapped[list[Any]] = mapped_column(default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What an operator asked the running process to do next: "pause" or "stop".
    control: Mapped[str | None] = mapped_column(String(20))
    host: Mapped[str | None] = mapped_column(String(200))  # where ``pid`` runs


class Site(Base):
    """The unit that gets blocked: a registrable domain or a full .onion address.

    ``score`` and ``flagged`` are derived from the site's page verdicts (see
    ``classifiers.site``); ``status`` mirrors the latest review decision.
    """

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    is_onion: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    status: Mapped[str] = mapped_column(String(20), default=UNREVIEWED, index=True)
    lang: Mapped[str | None] = mapped_column(String(10))
    pages_count: Mapped[int] = mapped_column(Integer, default=0)
    flagged_pages: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    pages: Mapped[list[Page]] = relationship(back_populates="site")

    __table_args__ = (Index("ix_sites_flagged_score", "flagged", "score", "id"),)


class Page(Base):
    """One fetched URL: how it answered and what it said."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    url_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[int | None] = mapped_column(Integer)  # HTTP status; None when fetching failed
    error: Mapped[str | None] = mapped_column(Text)  # why fetching or reading failed
    content_type: Mapped[str | None] = mapped_column(String(200))
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    encoding: Mapped[str | None] = mapped_column(String(40))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(10))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    route: Mapped[str] = mapped_column(String(20), default="direct")  # direct / proxy / tor
    ip_address: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    site: Mapped[Site] = relationship(back_populates="pages")
    verdict: Mapped[Verdict | None] = relationship(back_populates="page", uselist=False)


class Verdict(Base):
    """The classifier's decision on one page, with what made it decide."""

    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), unique=True)
    label: Mapped[str] = mapped_column(String(20))
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(100))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    page: Mapped[Page] = relationship(back_populates="verdict")


class Entity(Base):
    """A payment or contact identifier (btc, qiwi, telegram, ...), stored once per value."""

    __tablename__ = "entities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(300))
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("kind", "value"),)


class PageEntity(Base):
    """Where an entity was seen."""

    __tablename__ = "page_entities"

    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), primary_key=True, index=True)
    context: Mapped[str | None] = mapped_column(Text)


class Review(Base):
    """A reviewer's decision on a site. Rows are only ever added."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    decision: Mapped[str] = mapped_column(String(20))  # approve / reject / need-more
    reason: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    user: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Approvals count within a round; a reject or need-more closes the round (four-eyes).
    approval_round: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        # The database half of four-eyes: one approval per reviewer per site and round.
        Index("uq_reviews_one_approval_per_round", "site_id", "approval_round", "user",
              unique=True, sqlite_where=sql_text("decision = 'approve'"),
              postgresql_where=sql_text("decision = 'approve'")),
    )


class CustodyEvent(Base):
    """Append-only chain of custody; each row carries the SHA-256 of the one before it."""

    __tablename__ = "custody_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # captured / viewed / reviewed / exported / bundled
    action: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[str] = mapped_column(String(300), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class User(Base):
    """An operator, reviewer or admin of the web app."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExportBatch(Base):
    """One export file sent to the blocking authority: its format, contents digest, who and when."""

    __tablename__ = "export_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the batch number
    format: Mapped[str] = mapped_column(String(20), index=True)
    mode: Mapped[str] = mapped_column(String(20))  # incremental / all / since
    since_batch: Mapped[int | None] = mapped_column(Integer)
    items_count: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExportItem(Base):
    """One identifier (domain, URL, wallet, ...) as it went out in one export batch."""

    __tablename__ = "export_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("export_batches.id"), index=True)
    format: Mapped[str] = mapped_column(String(20))
    item_type: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Text)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))

    __table_args__ = (Index("ix_export_items_format_type", "format", "item_type"),)


class WebSession(Base):
    """A signed-in browser or script session of the web app; the cookie holds the token."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    flash: Mapped[str | None] = mapped_column(Text)  # one message for the next page shown
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LoginAttempt(Base):
    """One try to sign in, kept to throttle password guessing by name and by address."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    remote: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_login_attempts_name_at", "name", "at"),
                      Index("ix_login_attempts_remote_at", "remote", "at"))


class ApiToken(Base):
    """A bearer token for operators' scripts calling the JSON twins; only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FrontierURL(Base):
    """A URL a job scheduled, kept until the job ends so a paused or killed job resumes exactly.

    ``fetched`` turns true in the same transaction that stores the URL's page.
    """

    __tablename__ = "frontier"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    url_hash: Mapped[str] = mapped_column(String(64))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(Integer, default=0)  # index into the job's seeds
    fetched: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (UniqueConstraint("job_id", "url_hash"),
                      Index("ix_frontier_job_fetched", "job_id", "fetched"))


class Post(Base):
    """One forum post on a thread page: who wrote it, when, what, and the classifier's verdict."""

    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    engine: Mapped[str] = mapped_column(String(20))  # phpbb, xenforo, smf, ...
    thread_url: Mapped[str] = mapped_column(Text)  # the thread's first page, one per thread
    thread_title: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)  # order on the page, from 0
    post_key: Mapped[str | None] = mapped_column(String(100))  # the engine's post id
    author: Mapped[str | None] = mapped_column(String(300))
    posted_at: Mapped[str | None] = mapped_column(String(100))  # as the forum shows it
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(20))
    score: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)

    __table_args__ = (UniqueConstraint("page_id", "position"),)


class Schedule(Base):
    """A recurring job: re-crawl a seed list, or re-check the approved sites, every so often."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="seeds")  # seeds / approved-sites
    every_s: Mapped[int] = mapped_column(Integer)
    seeds: Mapped[list[Any]] = mapped_column(default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_job: Mapped[str | None] = mapped_column(String(200))


class CustodyHead(Base):
    """The custody chain's anchor: how many events it has and the hash of the last one.

    A plain hash chain cannot show that its *last* rows were deleted; this row, updated in the
    same transaction as every new event, can (and WARC metadata records repeat it off-database).
    """

    __tablename__ = "custody_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    count: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class WarcFile(Base):
    """One WARC file written by a crawl; its SHA-256 is recorded when it is closed."""

    __tablename__ = "warc_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)  # relative to the WARC dir
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    route: Mapped[str] = mapped_column(String(20))
    warcinfo_id: Mapped[str] = mapped_column(String(100))
    warcinfo_length: Mapped[int] = mapped_column(BigInteger)  # bytes of the warcinfo member
    size: Mapped[int | None] = mapped_column(BigInteger)  # set when closed
    sha256: Mapped[str | None] = mapped_column(String(64))  # set when closed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Capture(Base):
    """The evidence of one fetch of a page: its request, response and metadata WARC records.

    ``offset``/``length`` locate the three records' bytes in the WARC file and ``sha256`` is
    the digest of exactly those bytes, so a capture can be checked (and bundled) on its own.
    """

    __tablename__ = "captures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    warc_file_id: Mapped[int] = mapped_column(ForeignKey("warc_files.id"), index=True)
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    response_id: Mapped[str] = mapped_column(String(100), unique=True)
    metadata_id: Mapped[str] = mapped_column(String(100))
    payload_digest: Mapped[str] = mapped_column(String(80))  # "sha256:<hex>" of the body
    reason: Mapped[str] = mapped_column(String(30))  # drugs-verdict / flagged-site
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    captured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Screenshot(Base):
    """A full-page PNG of a captured page, stored as a WARC resource record (or why it failed)."""

    __tablename__ = "screenshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # taken / failed
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(Text)
    warc_file_id: Mapped[int | None] = mapped_column(ForeignKey("warc_files.id"))
    offset: Mapped[int | None] = mapped_column(BigInteger)
    length: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))  # of the record's bytes in the file
    record_id: Mapped[str | None] = mapped_column(String(100))
    png_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
