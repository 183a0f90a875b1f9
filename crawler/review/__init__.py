"""The review web app: reviewers work the queue of flagged sites; operators and admins see jobs,
exports and users. Every HTML page has a JSON twin built from the same query."""

from crawler.review.app import create_app

__all__ = ["create_app"]
