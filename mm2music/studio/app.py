"""The studio's web application: a JSON API over the library and the page in ``static/``.

Everything the page does goes through the same functions as the CLI: :func:`mm2music.pipeline.run` scores (and
re-scores with other hit points, keeping locked cues through its ``lock``), :mod:`mm2music.revise` writes a cue
again, writes variations, picks one, locks and undoes, :class:`mm2music.refine.session.RefineSession` drives the
slider. The state is the output folder: a reload, or a restart of the server, loses nothing but a refine
slider that was shown and not yet answered.

Safety: the server listens on 127.0.0.1 unless told otherwise; project names are plain folder names checked
against a pattern; uploads stream, size-limited, into ``<out>/<name>/source/`` and nowhere else; files are
served only from inside a project folder under ``--out`` (paths resolved and checked, hidden files refused; a
project name that is a link is no project). A project is read through its format
(:func:`mm2music.project.read_index`) and changed only by jobs that hold its lock, as the CLI's edits do.

The routes are one router per resource (the page, projects, a cue's edits, the refine slider, jobs), each
built over the :class:`Studio` by a ``_*_routes`` function and included by :func:`create_app`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from mm2music.errors import Mm2MusicError
from mm2music.project.store import locked
from mm2music.studio.jobs import Busy, Job, JobRunner

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
FILE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,119}")
VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
CAPTION_EXTS = (".srt", ".vtt")
TEXT_EXTS = (".txt",)
SOURCE = "source"  # <project>/source/: the uploaded video, captions or text the project was scored from
STATIC = ("index.html", "studio.js", "studio.css")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class NotFound(Mm2MusicError):
    """A project, cue or file the page asked for does not exist."""


class TooLarge(Mm2MusicError):
    """An upload over the size limit."""


class NoSpace(Mm2MusicError):
    """An upload that could not be stored (a full disk, a read-only folder)."""


# --- request bodies ----------------------------------------------------------------------------------------


class ScoreBody(BaseModel):
    video: str | None = None  # a file uploaded into <name>/source/
    captions: str | None = None
    text: str | None = Field(default=None, max_length=100_000)
    duration: float | None = None  # seconds of music for a plain text
    seed: int | None = None
    hits: list[float] | None = None


class HitsBody(BaseModel):
    hits: list[float]


class ReviseBody(BaseModel):
    key: str | None = None
    tempo: float | None = None
    instruments: list[str] | None = None
    intensity: float | None = None
    seed: int | None = None


class CountBody(BaseModel):
    k: int = 3


class PickBody(BaseModel):
    j: int


class LockBody(BaseModel):
    locked: bool = True


# --- the studio's state ------------------------------------------------------------------------------------


@dataclass
class Studio:
    """Where projects live (``out``), how new ones are scored (a config name or path and ``key=value``
    overrides, as the CLI's ``--config`` / ``--set``), and the jobs and refine sliders in flight."""

    out: Path
    config: str | None = None
    overrides: tuple[str, ...] = ()
    max_upload_bytes: int = 2 << 30
    local_only: bool = True  # listening on 127.0.0.1: refuse requests addressed to another host name (DNS rebinding)
    jobs: JobRunner = field(default_factory=JobRunner)
    refines: dict = field(default_factory=dict)  # (project, cue) -> (RefineSession, last previews)

    def __post_init__(self) -> None:
        self.out = Path(self.out).resolve()
        self.out.mkdir(parents=True, exist_ok=True)

    # names and folders: nothing from the client is used as a path before it passes these
    def folder(self, name: str) -> Path:
        if not NAME_RE.fullmatch(name or ""):
            raise Mm2MusicError(f"project name {name!r} is not a plain folder name; use letters, digits, '.', '-' or '_' "
                                "(at most 80, not starting with '.')")
        folder = self.out / name
        if folder.is_symlink():  # a link in the output root may lead anywhere: it is no project of this studio
            raise NotFound(f"no project '{name}' in {self.out} ('{name}' is a link, not a folder)")
        return folder

    def project_folder(self, name: str) -> Path:
        from mm2music.project import is_project, tidy

        folder = self.folder(name)
        if not is_project(folder):
            tidy(folder)  # a version a killed run left half-published is put back
        if not is_project(folder):
            raise NotFound(f"no scored project '{name}' in {self.out}; score it first")
        return folder

    def file(self, name: str, rel: str) -> Path:
        folder = self.folder(name)
        parts = Path(rel).parts
        if not parts or any(p.startswith(".") for p in parts) or folder.resolve() != folder:
            raise NotFound(f"'{rel}' is not a file of project '{name}'")
        path = (folder / rel).resolve()
        if not path.is_relative_to(folder) or not path.is_file():
            raise NotFound(f"'{rel}' is not a file of project '{name}'")
        return path

    def source_name(self, filename: str, exts: tuple[str, ...]) -> str:
        base = Path(filename or "").name
        if not FILE_RE.fullmatch(base) or Path(base).suffix.lower() not in exts:
            raise Mm2MusicError(f"file name {filename!r} is not accepted; give a plain name ending in {', '.join(exts)}")
        return base

    def base_config(self, name: str, extra: dict):
        from mm2music.config import load_config, merge

        config = load_config(self.config, list(self.overrides))
        return merge(config, {"output": {"out_dir": str(self.out), "name": name, "overwrite": False}, **extra})


def _only_sources(folder: Path) -> bool:
    """A folder that holds nothing but uploads waiting to be scored (the studio may replace it)."""
    return folder.is_dir() and not (folder / "project.json").exists() and {p.name for p in folder.iterdir()} <= {SOURCE}


def _link_sources(folder: Path, staging: Path) -> None:
    """Carry ``folder/source/`` into the new version being published (hard links: no copy)."""
    src = folder / SOURCE
    if src.is_dir():
        for f in src.iterdir():
            if f.is_file():
                (staging / SOURCE).mkdir(exist_ok=True)
                os.link(f, staging / SOURCE / f.name)


def _drop_upload(folder: Path, part: Path) -> None:
    """Remove a failed upload, and its project folder if the upload was all it held."""
    part.unlink(missing_ok=True)
    if _only_sources(folder) and not ((folder / SOURCE).is_dir() and any((folder / SOURCE).iterdir())):
        shutil.rmtree(folder, ignore_errors=True)


def _inputs_of(folder: Path, analysis):
    """The inputs a project was scored from: its ``source/`` files (studio projects), or where the CLI run
    read them (a video's path, a captions file, a text file or the text itself)."""
    from mm2music.pipeline import Inputs

    src = folder / SOURCE
    found = {kind: sorted(f for f in src.iterdir() if f.suffix.lower() in exts) if src.is_dir() else []
             for kind, exts in (("video", VIDEO_EXTS), ("captions", CAPTION_EXTS), ("text", TEXT_EXTS))}
    if any(found.values()):
        first = {k: str(v[0]) if v else None for k, v in found.items()}
        return Inputs(video=first["video"], captions=first["captions"], text_file=None if first["video"] else first["text"])
    if analysis.kind == "video":
        return Inputs(video=analysis.source)
    if analysis.kind == "captions":
        return Inputs(captions=analysis.source)
    if analysis.source == "text":
        return Inputs(text=analysis.segments[0].text)
    return Inputs(text_file=analysis.source)


# --- reading a project for the page ------------------------------------------------------------------------


def _read_json(path: Path) -> dict:
    """A derived file the page shows (analysis, plan, cue sheet): {} when missing or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _items(data: dict, key: str) -> list[dict]:
    """``data[key]`` when it is a list, keeping its objects only (a file edited by hand may hold anything)."""
    value = data.get(key)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


VARIATION_DIR_RE = re.compile(r"cue(\d{1,3})")
VARIATION_WAV_RE = re.compile(r"v(\d{1,3})\.wav")


def project_summary(folder: Path) -> dict:
    """One line of the listing; a project that cannot be read says why instead of breaking the listing."""
    from mm2music.project import ProjectError, is_project, read_index

    analysis = _read_json(folder / "analysis.json")
    item = {"name": folder.name, "scored": False, "kind": analysis.get("kind"), "duration": analysis.get("duration"),
            "cues": 0, "version": None, "mtime": folder.stat().st_mtime, "error": None}
    if is_project(folder):
        try:
            index = read_index(folder)
            item.update(scored=True, cues=len(index.cues), version=index.version)
        except ProjectError as exc:
            item["error"] = " ".join(str(exc).split())
    return item


def _variations(folder: Path) -> dict:
    out = {}
    for d in sorted((folder / "variations").glob("cue*")):
        m = VARIATION_DIR_RE.fullmatch(d.name)
        if not m or not d.is_dir():
            continue
        wavs = sorted((int(w.group(1)), p) for p in d.iterdir() if (w := VARIATION_WAV_RE.fullmatch(p.name)) and p.is_file())
        if wavs:
            out[str(int(m.group(1)))] = [{"j": j, "wav": f"variations/{d.name}/{p.name}"} for j, p in wavs]
    return out


def project_detail(folder: Path) -> dict:
    from mm2music.project import PROJECT_FILE, history_versions, read_index

    index = read_index(folder)  # a damaged project.json is a one-line error, as in the CLI
    analysis, plan, sheet = (_read_json(folder / f) for f in ("analysis.json", "plan.json", "cue_sheet.json"))
    video = next((p.name for p in sorted(folder.glob("*_scored.mp4"))), None)
    downloads = [(label, rel) for label, rel in (("MIDI", "soundtrack.mid"), ("WAV", "soundtrack.wav"), ("scored video", video),
                                                  ("cue sheet (Markdown)", "cue_sheet.md"), ("cue sheet (JSON)", "cue_sheet.json"),
                                                  ("MusicXML", "soundtrack.musicxml"), ("timeline", "timeline.png"))
                 if rel and (folder / rel).is_file()]
    downloads += [(f"stem {p.stem}", f"stems/{p.name}") for p in sorted((folder / "stems").glob("*.wav")) if p.is_file()]
    scenes = [{k: s.get(k) for k in ("start", "end", "valence", "arousal", "confidence")} |
              {"emotions": _top_emotions(s.get("emotions"))} for s in _items(analysis, "scenes")]
    cuts = analysis.get("cuts")
    return {
        "name": folder.name, "kind": analysis.get("kind"), "source": Path(str(analysis.get("source", ""))).name,
        "duration": analysis.get("duration"), "fps": analysis.get("fps"), "version": index.version,
        "history": len(history_versions(folder)), "stamp": str((folder / PROJECT_FILE).stat().st_mtime_ns), "video": video, "audio": "soundtrack.wav",
        "cuts": cuts if isinstance(cuts, list) else [], "transitions": _items(analysis, "transitions"), "scenes": scenes,
        "segments": [str(s.get("text", ""))[:200] for s in _items(analysis, "segments")][:50],
        "cues": _items(plan, "cues"), "intensity": plan.get("intensity"), "notes": plan.get("notes") if isinstance(plan.get("notes"), list) else [],
        "sheet": [{**{k: c.get(k) for k in ("generation", "timecode", "caught_cuts")},
                   **{k: e.get(k) for k in ("seed", "locked", "pinned")}} for c, e in zip(_items(sheet, "cues"), index.cues)],
        "hits": list(index.hits), "sync": sheet.get("sync"), "downloads": [{"label": a, "path": b} for a, b in downloads],
        "variations": _variations(folder),
    }


def _top_emotions(emotions) -> dict:
    if not isinstance(emotions, dict):
        return {}
    weights = {k: v for k, v in emotions.items() if isinstance(v, (int, float))}
    return dict(sorted(weights.items(), key=lambda kv: -kv[1])[:5])


def piano_roll(folder: Path) -> dict:
    """Every note of ``soundtrack.mid`` in seconds: [start, end, pitch, velocity, track]; and the tracks."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(folder / "soundtrack.mid"))
    tracks = [{"name": inst.name, "program": int(inst.program), "drum": bool(inst.is_drum)} for inst in midi.instruments]
    notes = [[round(float(n.start), 4), round(float(n.end), 4), int(n.pitch), int(n.velocity), t]
             for t, inst in enumerate(midi.instruments) for n in inst.notes]
    return {"tracks": tracks, "notes": notes}


# --- the application ---------------------------------------------------------------------------------------


def create_app(studio: Studio) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        studio.jobs.shutdown()

    app = FastAPI(title="mm2music studio", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.studio = studio

    @app.middleware("http")
    async def _same_origin(request: Request, call_next):
        """Only this machine's pages may change projects: a request for another host name (a DNS rebinding
        page) is refused, and so is a change whose Origin is another site (cross-site requests)."""
        host = request.headers.get("host", "")
        if studio.local_only and urlsplit(f"//{host}").hostname not in LOCAL_HOSTS:
            return JSONResponse({"error": f"host {host!r} is not this studio's; open it at 127.0.0.1"}, status_code=403)
        origin = request.headers.get("origin")
        if request.method not in ("GET", "HEAD") and origin and urlsplit(origin).netloc != host:
            return JSONResponse({"error": f"a change from {origin!r} is refused; use the studio's own page"}, status_code=403)
        return await call_next(request)

    @app.exception_handler(Mm2MusicError)
    async def _user_error(request: Request, exc: Mm2MusicError) -> JSONResponse:
        status = {NotFound: 404, Busy: 409, TooLarge: 413, NoSpace: 507}.get(type(exc), 400)
        return JSONResponse({"error": " ".join(str(exc).split())}, status_code=status)

    for routes in (_page_routes, _project_routes, _edit_routes, _refine_routes, _job_routes):  # one router per resource
        app.include_router(routes(studio))
    return app


def _page_routes(studio: Studio) -> APIRouter:
    """The page and its static files, and the vocabulary its forms offer."""
    router = APIRouter()

    @router.get("/")
    def index() -> Response:
        return static("index.html")

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise NotFound(f"no static file {name!r}")
        kind = {"html": "text/html", "js": "text/javascript", "css": "text/css"}[name.rsplit(".", 1)[1]]
        body = files("mm2music.studio").joinpath("static", name).read_bytes()
        return Response(body, media_type=f"{kind}; charset=utf-8", headers={"Cache-Control": "no-cache"})

    @router.get("/api/vocabulary")
    def vocabulary() -> dict:
        """The names and limits the page's forms offer (the CLI's choices and checks read the same)."""
        from mm2music import vocab

        return vocab.as_json()

    return router


def _project_routes(studio: Studio) -> APIRouter:
    """Projects: the listing, a project's page and files, uploads, scoring and re-scoring with other hit points."""
    router = APIRouter()

    @router.get("/api/projects")
    def projects() -> dict:
        items = [project_summary(p) for p in sorted(studio.out.iterdir())
                 if NAME_RE.fullmatch(p.name) and not p.is_symlink() and p.is_dir()]
        for item in items:
            job = studio.jobs.active(item["name"])
            item["job"] = job.to_json() if job else None
        items.sort(key=lambda x: -x["mtime"])
        return {"out": str(studio.out), "projects": items}

    @router.get("/api/projects/{name}")
    def project(name: str) -> dict:
        detail = project_detail(studio.project_folder(name))
        job = studio.jobs.active(name)
        detail["job"] = job.to_json() if job else None
        detail["refine"] = {str(cue): _previews_json(studio.folder(name), previews)
                            for (p, cue), (_, previews) in studio.refines.items() if p == name and previews}
        return detail

    @router.get("/api/projects/{name}/notes")
    def notes(name: str) -> dict:
        return piano_roll(studio.project_folder(name))

    @router.get("/api/projects/{name}/files/{rel:path}")
    def project_file(name: str, rel: str) -> Response:
        path = studio.file(name, rel)
        return FileResponse(path, headers={"Cache-Control": "no-store"}, filename=path.name if path.suffix != ".mp4" and
                            path.suffix != ".wav" else None)

    @router.put("/api/projects/{name}/upload/{filename}")
    async def upload(name: str, filename: str, request: Request) -> dict:
        folder = studio.folder(name)
        base = studio.source_name(filename, VIDEO_EXTS + CAPTION_EXTS + TEXT_EXTS)
        if folder.exists() and not _only_sources(folder):
            raise Busy(f"project '{name}' already exists in {studio.out}; choose another name")
        if studio.jobs.active(name):
            raise Busy(f"project '{name}' is being scored; wait for it or choose another name")
        limit = studio.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise TooLarge(f"upload of {int(declared) / 1e6:.1f} MB is over the studio's limit of {limit / 1e6:.0f} MB; "
                           "start the studio with a larger --max-upload-mb or score the file with the CLI")
        part = folder / SOURCE / f".{base}.part"
        size = 0
        try:
            (folder / SOURCE).mkdir(parents=True, exist_ok=True)
            with part.open("wb") as fh:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"upload of {base} is over the studio's limit of {limit / 1e6:.0f} MB; "
                                       "start the studio with a larger --max-upload-mb or score the file with the CLI")
                    fh.write(chunk)
            os.replace(part, folder / SOURCE / base)
        except OSError as exc:  # a full disk, a read-only folder: nothing kept, one line
            _drop_upload(folder, part)
            reason = " ".join((exc.strerror or str(exc) or type(exc).__name__).split())
            raise NoSpace(f"cannot store the upload '{base}' in '{folder}' ({reason}); free some space and upload it again") from None
        except BaseException:
            _drop_upload(folder, part)
            raise
        return {"file": base, "bytes": size}

    @router.post("/api/projects/{name}/score")
    def score(name: str, body: ScoreBody) -> dict:
        folder = studio.folder(name)
        if folder.exists() and not _only_sources(folder):
            raise Busy(f"project '{name}' already exists in {studio.out}; choose another name (or edit it)")
        video = studio.source_name(body.video, VIDEO_EXTS) if body.video else None
        captions = studio.source_name(body.captions, CAPTION_EXTS) if body.captions else None
        if body.text is not None and (video or captions):
            raise Mm2MusicError("give a text, or a video and/or captions, not both")
        if body.text is not None and not body.text.strip():
            raise Mm2MusicError("the text is empty; type a sentence or a paragraph to score")
        for f in (video, captions):
            if f and not (folder / SOURCE / f).is_file():
                raise NotFound(f"'{f}' was not uploaded to project '{name}'; upload it first")
        if not (video or captions or body.text):
            raise Mm2MusicError("nothing to score; upload a video or captions, or type a text")
        extra: dict = {}
        if body.seed is not None:
            extra["seed"] = body.seed
        if body.duration is not None:
            extra["text"] = {"duration": body.duration}
        if body.hits:
            extra["plan"] = {"hits": body.hits}
        config = studio.base_config(name, extra)

        def work(report):
            from mm2music import pipeline
            from mm2music.checks import check_settings

            check_settings(config)
            if (folder / SOURCE).is_dir():  # earlier uploads not named now would be taken for the source by a re-score
                for f in (folder / SOURCE).iterdir():
                    if f.is_file() and f.name not in (video, captions):
                        f.unlink()
            text_file = None
            if body.text is not None:
                (folder / SOURCE).mkdir(parents=True, exist_ok=True)
                text_file = folder / SOURCE / f"{name}.txt"
                text_file.write_text(body.text, encoding="utf-8")
            inputs = pipeline.Inputs(video=str(folder / SOURCE / video) if video else None,
                                     captions=str(folder / SOURCE / captions) if captions else None,
                                     text_file=str(text_file) if text_file else None)
            try:
                result = pipeline.run(inputs, config, progress=False, replaceable=_only_sources,
                                      seal=lambda staging: _link_sources(folder, staging), on_progress=report)
            except BaseException:
                if _only_sources(folder):  # nothing is left behind by a failed score
                    shutil.rmtree(folder, ignore_errors=True)
                raise
            return {"cues": len(result.plan.cues), "timings": {k: round(v, 2) for k, v in result.timings.stages.items()}}

        return _submit(studio, name, "score", work)

    @router.post("/api/projects/{name}/hits")
    def hits(name: str, body: HitsBody) -> dict:
        folder = studio.project_folder(name)

        def work(report):
            return rescore(studio, folder, sorted(body.hits), report)

        return _submit(studio, name, "rescore", work)

    return router


def _edit_routes(studio: Studio) -> APIRouter:
    """Edits of one cue through the revise engine: write it again, variations, pick, lock; and undo."""
    router = APIRouter()

    @router.post("/api/projects/{name}/cues/{cue}/revise")
    def revise_cue(name: str, cue: int, body: ReviseBody) -> dict:
        from mm2music import revise

        folder = studio.project_folder(name)
        settings = revise.CueSettings(key=body.key or None, tempo=body.tempo,
                                      instruments=tuple(body.instruments) if body.instruments is not None else None,
                                      intensity=body.intensity)

        def work(report):
            report(f"composing cue {cue}")
            r = revise.revise(folder, cue, settings, body.seed)
            return {"cues": r.cues, "version": r.version, "seconds": round(r.seconds, 2)}

        return _submit(studio, name, "revise", work)

    @router.post("/api/projects/{name}/cues/{cue}/variations")
    def variations(name: str, cue: int, body: CountBody) -> dict:
        from mm2music import revise

        folder = studio.project_folder(name)

        def work(report):
            report(f"writing {body.k} variations of cue {cue}")
            r = revise.variations(folder, cue, body.k)
            return {"variations": [str(p.relative_to(folder)) for p in r.variations], "seconds": round(r.seconds, 2)}

        return _submit(studio, name, "variations", work)

    @router.post("/api/projects/{name}/cues/{cue}/pick")
    def pick(name: str, cue: int, body: PickBody) -> dict:
        from mm2music import revise

        folder = studio.project_folder(name)
        return _submit(studio, name, "pick", lambda report: {"version": revise.pick(folder, cue, body.j).version})

    @router.post("/api/projects/{name}/cues/{cue}/lock")
    def lock(name: str, cue: int, body: LockBody) -> dict:
        from mm2music import revise

        folder = studio.project_folder(name)
        return _submit(studio, name, "lock", lambda report: {"version": revise.set_locked(folder, cue, body.locked).version})

    @router.post("/api/projects/{name}/undo")
    def undo(name: str) -> dict:
        from mm2music import project as project_mod

        folder = studio.project_folder(name)
        return _submit(studio, name, "undo", lambda report: {"left": project_mod.undo(folder)})

    return router


def _refine_routes(studio: Studio) -> APIRouter:
    """The refine slider: sessions live in the server between a round and the pick."""
    router = APIRouter()

    @router.post("/api/projects/{name}/cues/{cue}/refine/round")
    def refine_round(name: str, cue: int, body: CountBody) -> dict:
        from mm2music.refine.session import RefineSession

        folder = studio.project_folder(name)

        def work(report):
            with locked(folder):
                session, _ = studio.refines.get((name, cue), (None, None))
                if session is None:
                    session = RefineSession(folder, cue, body.k)
                report(f"composing {session.previews} previews of cue {cue} along a slider")
                previews = session.next_round()
            studio.refines[(name, cue)] = (session, previews)
            return {"round": session.engine.rounds + 1, "previews": _previews_json(folder, previews)}

        return _submit(studio, name, "refine-round", work, keep_refines=True)

    @router.post("/api/projects/{name}/cues/{cue}/refine/choose")
    def refine_choose(name: str, cue: int, body: PickBody) -> dict:
        studio.project_folder(name)
        session, previews = studio.refines.get((name, cue), (None, None))
        if not previews:
            raise NotFound(f"cue {cue} of '{name}' has no slider to choose on; start a refine round first")

        def work(report):
            with locked(studio.folder(name)):
                session.choose(body.j, previews)
            studio.refines[(name, cue)] = (session, [])
            x, _ = session.best()
            return {"rounds": session.engine.rounds, "best": x}

        return _submit(studio, name, "refine-choose", work, keep_refines=True)

    @router.post("/api/projects/{name}/cues/{cue}/refine/apply")
    def refine_apply(name: str, cue: int) -> dict:
        from mm2music.refine.session import RefineSession

        folder = studio.project_folder(name)

        def work(report):
            with locked(folder):
                session, _ = studio.refines.get((name, cue), (None, None))
                session = session or RefineSession(folder, cue)
                r = session.apply()
            return {"version": r.version}

        return _submit(studio, name, "refine-apply", work)

    return router


def _job_routes(studio: Studio) -> APIRouter:
    """Jobs: their state, and their progress as server-sent events."""
    router = APIRouter()

    @router.get("/api/jobs/{job_id}")
    def job(job_id: int) -> dict:
        return _job(studio, job_id).to_json()

    @router.get("/api/jobs/{job_id}/events")
    async def events(job_id: int) -> StreamingResponse:
        job = _job(studio, job_id)

        async def stream():
            seen = 0
            while True:
                news, over = await asyncio.to_thread(studio.jobs.wait, job, seen, 10.0)
                seen += len(news)
                for text in news:
                    yield f"event: progress\ndata: {json.dumps({'message': text})}\n\n"
                if over:
                    yield f"event: end\ndata: {json.dumps(job.to_json())}\n\n"
                    return
                if not news:
                    yield ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    return router


def _previews_json(folder: Path, previews) -> list[dict]:
    return [{"k": k, "position": round(p.position, 3), "settings": p.settings, "wav": str(p.wav.relative_to(folder))}
            for k, p in enumerate(previews, 1)]


def _job(studio: Studio, job_id: int) -> Job:
    job = studio.jobs.jobs.get(job_id)
    if job is None:
        raise NotFound(f"no job #{job_id} (jobs are kept while the studio runs)")
    return job


def _submit(studio: Studio, name: str, kind: str, work, keep_refines: bool = False) -> dict:
    def done(job: Job) -> None:
        if job.state == "done" and not keep_refines:  # the project changed: a slider built on it is stale
            for key in [k for k in studio.refines if k[0] == name]:
                del studio.refines[key]

    return studio.jobs.submit(name, kind, work, on_done=done).to_json()


def rescore(studio: Studio, folder: Path, hits: list[float], report) -> dict:
    """Score the project again with ``hits`` (the CLI's ``--hits`` with ``--overwrite --lock``): locked cues are
    kept, and so are the cues no added, moved or removed hit point falls in; only those are written again (they
    stay unlocked). The previous version goes to history/."""
    from mm2music import pipeline
    from mm2music.config import Config, merge
    from mm2music.project import load_project
    from mm2music.revise import annotate_cue_sheet

    project = load_project(folder)
    changed = set(project.hits) ^ set(hits)
    spans = [(e.music.cue.start, e.music.cue.end) for e in project.cues]
    touched = {i for i, (a, b) in enumerate(spans) for h in changed if a <= h < b or (i == len(spans) - 1 and h == b)}
    if not changed:
        raise Mm2MusicError(f"the hit points are unchanged ({', '.join(f'{h:g}' for h in hits) or 'none'}); add, move or remove one first")
    keep = [i for i, e in enumerate(project.cues) if e.locked or i not in touched]
    unlock = [i for i in keep if not project.cues[i].locked]
    config = merge(merge(Config(), project.config), {"output": {"out_dir": str(studio.out), "name": folder.name, "overwrite": True},
                                                     "plan": {"hits": hits or None}})

    def seal(staging: Path) -> None:
        _link_sources(folder, staging)
        if unlock:  # kept only because no hit changed there: not locked by the user
            p = load_project(staging)
            for i in unlock:
                p.cues[i].locked = False
            p.write(staging, set())
            annotate_cue_sheet(staging, p)

    report(f"re-scoring with hit points at {', '.join(f'{h:g} s' for h in hits) or 'none'}; keeping cues "
           f"{', '.join(str(i + 1) for i in keep) or 'none'}")
    result = pipeline.run(_inputs_of(folder, project.analysis), config, progress=False, lock=[i + 1 for i in keep],
                          seal=seal, on_progress=report)
    return {"cues": len(result.plan.cues), "rewritten": sorted(i + 1 for i in touched if i not in keep)}
