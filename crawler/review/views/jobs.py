"""The operator's jobs page (/jobs and /jobs.json): crawl jobs, newest first, in the jobs
module's JSON shape, with forms (and JSON API calls) to start, pause, resume and stop them.

``POST /jobs`` starts a job (form fields or a JSON object: ``name``, ``seeds`` as URLs,
``seed_file`` from configs/seeds, ``max_pages``, ``depth``, ``forum``);
``POST /jobs/{name}/pause|resume|stop`` controls one. Each job runs in its own process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from crawler.config import PROJECT_ROOT
from crawler.jobs import (
    ACTIVE,
    JobError,
    default_job_name,
    job_settings,
    job_summary,
    list_jobs,
    pause_job,
    resume_job,
    start_job,
    stop_job,
)
from crawler.review.routing import (
    CONFIG,
    OPERATOR,
    USER,
    add_twin,
    database,
    requires,
    user_of,
    wants_json,
)
from crawler.review.sessions import set_flash, take_flash
from crawler.seeds import SeedError, check_url, load_seed_file

SEED_DIR = PROJECT_ROOT / "configs" / "seeds"
REFRESH_S = 5  # the page reloads itself while a job is queued or running

PAGE = """{% extends "base.html" %}
{% block title %}Jobs{% endblock %}
{% block main %}
<div class="heading"><h1>Jobs</h1><a class="twin" href="/jobs.json">JSON</a></div>
<form class="card start-job" method="post" action="/jobs">
  <input type="hidden" name="{{ csrf_field }}" value="{{ user.csrf_token }}">
  <h3>Start a job</h3>
  <label>Name <input name="name" placeholder="{{ default_name }}"
    pattern="[A-Za-z0-9][A-Za-z0-9._-]{0,99}"></label>
  <label>Seed file <select name="seed_file"><option value="">(none)</option>
    {% for f in seed_files %}<option>{{ f }}</option>{% endfor %}</select></label>
  <label>Seed URLs, one a line <textarea name="seeds" rows="3" cols="50"></textarea></label>
  <label>Max pages <input name="max_pages" type="number" min="1"
    placeholder="{{ limits.max_pages }}"></label>
  <label>Depth <input name="depth" type="number" min="0" placeholder="{{ limits.depth }}"></label>
  <label><input name="forum" type="checkbox" value="1"> forum spider</label>
  <button class="primary" type="submit">Start</button>
</form>
{% if data.jobs %}
<table class="card">
  <thead><tr><th>Job</th><th>State</th><th class="num">Pages</th><th class="num">Queued</th>
    <th class="num">Sites</th><th class="num">Flagged sites</th><th class="num">Pages/s</th>
    <th>Errors</th><th>Heartbeat</th><th>Started by</th><th></th></tr></thead>
  <tbody>{% for j in data.jobs %}
  <tr><td>{{ j.name }}</td>
    <td><span class="state {{ j.status }}">{{ j.status }}</span>
      {% if j.control %}<small>({{ j.control }} asked
        {%- if j.status == "running" and j.stats.closing %}, finishing in-flight pages
        {%- endif %})</small>{% endif %}
      {% if j.error %}<small class="bad">{{ j.error }}</small>{% endif %}</td>
    <td class="num">{{ j.stats.pages_fetched }}</td><td class="num">{{ j.stats.pages_queued }}</td>
    <td class="num">{{ j.stats.sites_found }}</td><td class="num">{{ j.stats.sites_flagged }}</td>
    <td class="num">{{ "%.1f"|format(j.stats.pages_per_s or 0) }}</td>
    <td>{% for kind, n in j.stats.errors.items() %}{{ kind }} {{ n }}
      {%- if not loop.last %}, {% endif %}{% endfor %}</td>
    <td>{{ j.heartbeat_at|when }}</td><td>{{ j.created_by or "" }}</td>
    <td>{% for action in actions[j.status] %}
      <form method="post" action="/jobs/{{ j.name }}/{{ action }}" style="display:inline">
        <input type="hidden" name="{{ csrf_field }}" value="{{ user.csrf_token }}">
        <button type="submit">{{ action|capitalize }}</button></form>{% endfor %}</td></tr>
  {% endfor %}</tbody>
</table>
{% else %}<p class="empty">No jobs yet: start one above, or with
  <code>trawler crawl configs/seeds/demo.yaml</code>.</p>{% endif %}
{% endblock %}"""

# The controls each state offers.
ACTIONS = {"queued": ["pause", "stop"], "running": ["pause", "stop"], "paused": ["resume", "stop"],
           "failed": ["resume", "stop"], "finished": [], "stopped": []}
CONTROLS = {"pause": pause_job, "stop": stop_job}


class StartError(ValueError):
    """A start request that cannot be run as given."""


def seed_files() -> list[str]:
    return sorted(p.name for p in SEED_DIR.glob("*.y*ml"))


def _number(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise StartError(f"{field} must be a whole number, got {value!r}")
    return number


def read_seeds(urls: Any, seed_file: Any) -> list[dict[str, Any]]:
    """Seeds from URLs (a list, or text with one a line) and a seed file of configs/seeds."""
    if isinstance(urls, str):
        urls = [line.strip() for line in urls.splitlines() if line.strip()]
    seeds: dict[str, dict[str, Any]] = {}
    try:
        if seed_file:
            if str(seed_file) not in seed_files():
                raise StartError(f"no seed file {seed_file!r} in configs/seeds")
            for seed in load_seed_file(SEED_DIR / Path(str(seed_file)).name):
                seeds[seed.url] = seed.to_dict()
        for index, url in enumerate(urls or [], 1):
            checked = check_url(str(url), f"seed URL {index}")
            seeds.setdefault(checked, {"url": checked, "source": "web"})
    except SeedError as exc:
        raise StartError(str(exc)) from exc
    if not seeds:
        raise StartError("give seed URLs or pick a seed file")
    return list(seeds.values())


async def _fields(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise StartError("send a JSON object")
        return body
    return dict(await request.post())


async def _answer(request: web.Request, message: str, job: Any = None,
                  error: bool = False) -> web.StreamResponse:
    if wants_json(request):
        if error:
            return web.json_response({"error": message}, status=409)
        return web.json_response(job_summary(job), status=201 if request.path == "/jobs" else 200)
    digest = user_of(request).session_digest
    if digest is not None:
        async with database(request).session() as session, session.begin():
            await set_flash(session, digest, f"{'error' if error else 'info'}\t{message}")
    raise web.HTTPSeeOther("/jobs")


async def _take_flash(request: web.Request) -> str | None:
    user = request.get(USER)
    if user is None or user.session_digest is None:
        return None
    async with database(request).session() as session, session.begin():
        return await take_flash(session, user.session_digest)


@requires(OPERATOR)
async def jobs(request: web.Request) -> web.StreamResponse:
    rows = [job_summary(job) for job in await list_jobs(database(request))]
    data = {"jobs": rows}
    if wants_json(request):
        return web.json_response(data)
    config = request.app[CONFIG]
    page = aiohttp_jinja2.get_env(request.app).from_string(PAGE)
    response = web.Response(content_type="text/html", text=page.render(
        user=user_of(request), flash=await _take_flash(request), path=request.path, data=data,
        actions=ACTIONS, seed_files=seed_files(), default_name=default_job_name(),
        limits={"max_pages": config.crawl.max_pages, "depth": config.crawl.depth}))
    response.headers["Cache-Control"] = "no-store"
    if any(row["status"] in ACTIVE for row in rows):
        response.headers["Refresh"] = str(REFRESH_S)  # the numbers keep updating
    return response


@requires(OPERATOR)
async def start(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    try:
        fields = await _fields(request)
        seeds = read_seeds(fields.get("seeds"), fields.get("seed_file"))
        config = config.with_crawl(max_pages=_number(fields.get("max_pages"), "max_pages"),
                                   depth=_number(fields.get("depth"), "depth"))
        name = str(fields.get("name") or "").strip() or default_job_name()
        spider = "forum" if fields.get("forum") not in (None, "", False, "0") else "trawler"
        job = await start_job(config, name, seeds, created_by=user_of(request).name,
                              settings=job_settings(config, spider))
    except (StartError, JobError) as exc:
        return await _answer(request, f"Not started: {exc}", error=True)
    return await _answer(request, f"Job {job.name} started with {len(seeds)} seed(s).", job)


@requires(OPERATOR)
async def control(request: web.Request) -> web.StreamResponse:
    name, action = request.match_info["name"], request.match_info["action"]
    try:
        if action == "resume":
            job = await resume_job(database(request), name, request.app[CONFIG])
        else:
            job = await CONTROLS[action](database(request), name)
    except JobError as exc:
        return await _answer(request, f"Refused: {exc}", error=True)
    return await _answer(request, f"Job {name}: {action} asked.", job)


def setup(app: web.Application) -> None:
    add_twin(app, "/jobs", jobs, "jobs")
    app.router.add_post("/jobs", start, name="jobs.start")
    app.router.add_post(r"/jobs/{name}/{action:pause|resume|stop}", control, name="jobs.control")
