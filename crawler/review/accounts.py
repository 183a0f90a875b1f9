"""Accounts of the web app: roles, argon2 password hashes, users and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.store.models import ApiToken, User

ROLES = ("operator", "reviewer", "admin")
MIN_PASSWORD_CHARS = 10

_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """An account operation that cannot be done as asked; the message says what to change."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password is too short: use at least {MIN_PASSWORD_CHARS} "
                           "characters")
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    """Session and API tokens are stored only as SHA-256 digests."""
    return hashlib.sha256(token.encode()).hexdigest()


async def add_user(session: AsyncSession, name: str, role: str, password: str) -> User:
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("a user name needs 1 to 100 characters")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if await session.scalar(select(User.id).where(User.name == name)) is not None:
        raise AccountError(f"user {name!r} already exists; choose another name")
    user = User(name=name, role=role, password_hash=hash_password(password))
    session.add(user)
    await session.flush()
    return user


async def check_password(session: AsyncSession, name: str, password: str) -> User | None:
    """The user when the name and password match, else None (in constant-ish time)."""
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        password_matches(_DUMMY_HASH, password)
        return None
    return user if password_matches(user.password_hash, password) else None


async def find_user(session: AsyncSession, name: str) -> User:
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        raise AccountError(f"no user named {name!r}: add one with `trawler users add`")
    return user


async def issue_api_token(session: AsyncSession, user: User) -> str:
    """A new bearer token for ``user``; shown once, stored as its digest."""
    token = "trw_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_digest(token)))
    await session.flush()
    return token


async def user_for_api_token(session: AsyncSession, token: str) -> User | None:
    return await session.scalar(
        select(User).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_digest(token)))
