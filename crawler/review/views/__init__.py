"""The app's page families; each module's ``setup(app)`` adds its routes.

Jobs and exports views live in their own modules so their owners can grow them alone.
"""

from __future__ import annotations

from aiohttp import web

from crawler.review.views import auth, exports, jobs, sites, users

FAMILIES = (auth, sites, jobs, exports, users)


def register(app: web.Application) -> None:
    for family in FAMILIES:
        family.setup(app)
