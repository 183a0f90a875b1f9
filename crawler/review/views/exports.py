"""The admin's exports page (/exports and /exports.json): batches sent to the blocking
authority, a form to make a new one, and each batch's file and manifest for download.

Files are served only while their SHA-256 still matches the one recorded for the batch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aiohttp import web

from crawler.exports import (
    FORMATS,
    ExportError,
    ExportRequest,
    batch_json,
    configured_options,
    export_batch,
    list_batches,
    manifest_path,
)
from crawler.review.routing import (
    ADMIN,
    CONFIG,
    add_twin,
    database,
    requires,
    respond,
    user_of,
    wants_json,
)
from crawler.review.sessions import set_flash
from crawler.store.models import ExportBatch

BATCHES_SHOWN = 200
MODES = {"incremental": "Approved and not yet sent in this format",
         "all": "Everything approved",
         "since": "Approved after batch number…"}


def _batch(batch: ExportBatch) -> dict[str, Any]:
    return {**batch_json(batch), "download": f"/exports/{batch.id}/file",
            "manifest": f"/exports/{batch.id}/manifest"}


@requires(ADMIN)
async def exports(request: web.Request) -> web.StreamResponse:
    async with database(request).session() as session:
        rows = await list_batches(session, limit=BATCHES_SHOWN)
    return await respond(request, "exports.html", {"batches": [_batch(b) for b in rows]},
                         formats=FORMATS, modes=MODES)


@requires(ADMIN)
async def new_batch(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    config = request.app[CONFIG]
    since = str(form.get("since", "")).strip()
    try:
        if since and not since.isdigit():
            raise ExportError(f"batch number {since!r} is not a number")
        export_request = ExportRequest(
            format=str(form.get("format", "")), user=user_of(request).name,
            mode=str(form.get("mode") or "incremental"), since=int(since) if since else None,
            exports_dir=config.data_dir / "exports", **configured_options(config.extra))
        async with database(request).session() as session:
            result = await export_batch(session, export_request)
    except ExportError as exc:
        if wants_json(request):
            return web.json_response({"error": str(exc)}, status=400)
        await _flash(request, "error", f"Refused: {exc}")
        raise web.HTTPSeeOther("/exports") from exc
    if wants_json(request):
        return web.json_response(_batch(result.batch), status=201)
    batch = result.batch
    await _flash(request, "info",
                 f"Batch {batch.id} ({batch.format}): {batch.items_count} items exported.")
    raise web.HTTPSeeOther("/exports")


async def _flash(request: web.Request, kind: str, message: str) -> None:
    digest = user_of(request).session_digest
    if digest is not None:
        async with database(request).session() as session, session.begin():
            await set_flash(session, digest, f"{kind}\t{message}")


async def _stored_batch(request: web.Request) -> ExportBatch:
    async with database(request).session() as session:
        batch = await session.get(ExportBatch, int(request.match_info["id"]))
    if batch is None or not batch.path:
        raise web.HTTPNotFound(text=f"There is no export batch {request.match_info['id']}.")
    return batch


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@requires(ADMIN)
async def batch_file(request: web.Request) -> web.StreamResponse:
    batch = await _stored_batch(request)
    path = Path(batch.path)
    if not path.is_file():
        raise web.HTTPNotFound(text=f"The file of batch {batch.id} is gone from {path}.")
    if _sha256(path) != batch.sha256:
        raise web.HTTPConflict(text=f"The file of batch {batch.id} changed since it was "
                                    "exported; it is not served. Check it with its manifest.")
    export_format = FORMATS[batch.format]
    return web.Response(body=path.read_bytes(), content_type=export_format.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{path.name}"'})


@requires(ADMIN)
async def batch_manifest(request: web.Request) -> web.StreamResponse:
    batch = await _stored_batch(request)
    manifest = manifest_path(Path(batch.path))
    if not manifest.is_file():
        raise web.HTTPNotFound(text=f"The manifest of batch {batch.id} is gone.")
    return web.Response(body=manifest.read_bytes(), content_type="application/json",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{manifest.name}"'})


def setup(app: web.Application) -> None:
    add_twin(app, "/exports", exports, "exports")
    app.router.add_post("/exports", new_batch, name="exports.new")
    app.router.add_get(r"/exports/{id:\d+}/file", batch_file, name="exports.file")
    app.router.add_get(r"/exports/{id:\d+}/manifest", batch_manifest, name="exports.manifest")
