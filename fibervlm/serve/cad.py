"""The drawings task on Ray Serve: several files in one request, one CAD answer for the part.

    POST /v1/parts   multipart: `files` (a part's views, in order: _a, _b, _c), optional `context` text

Beside the end-face application (its own name and route prefix on the same Serve proxy). The model
reads all the views at once (`fibervlm.vlm.multiview`); the context is the request's `context`, else
Tesseract's reading of the views when installed. The answer: `status`, `valid`, the CAD `report`, its
OpenSCAD text `scad`, `views` (the file names), `raw` and the `request_id`. Errors have the end-face
app's shape, `{"status", "code", "error", "request_id"}`: 400 `no_files`, 413 `too_many_files`,
422 `not_an_image` naming the file.
"""

# No `from __future__ import annotations` here: FastAPI must see the real types of the ingress methods.
import io
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ray import serve

MAX_FILES = 6
app = FastAPI(title="fibervlm drawings", version="1")


def _error(status: int, code: str, reason: str, request_id: str) -> JSONResponse:
    body = {"status": "error", "code": code, "error": reason, "request_id": request_id}
    return JSONResponse(body, status_code=status, headers={"X-Request-ID": request_id})


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0.25})
@serve.ingress(app)
class CadIngress:
    """Loads the model once per replica; answers one part per request."""

    def __init__(self, model: str = "tiny-qwen2-vl", adapter: str | None = None, ocr: bool = True) -> None:
        from fibervlm.cad.ocr import tesseract_available
        from fibervlm.vlm.multiview import MultiViewPredictor

        self.predictor = MultiViewPredictor(model, task="cad", adapter=adapter, batch_size=1)
        self.ocr = ocr and tesseract_available()

    @app.post("/v1/parts")
    async def parts(self, request: Request) -> JSONResponse:
        from PIL import Image

        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        form = await request.form()
        files = [f for f in form.getlist("files") if not isinstance(f, str)]
        if not files:
            return _error(400, "no_files", "send the part's views as multipart `files`", request_id)
        if len(files) > MAX_FILES:
            return _error(413, "too_many_files", f"{len(files)} files; at most {MAX_FILES}", request_id)
        views: dict[str, Any] = {}
        for k, upload in enumerate(files):
            name = upload.filename or f"file {k}"
            try:
                views[name] = Image.open(io.BytesIO(await upload.read())).convert("RGB")
            except Exception:  # PIL raises several types for corrupt files
                return _error(422, "not_an_image", f"{name}: not a readable image", request_id)
        context = form.get("context")
        if not isinstance(context, str) or not context:
            context = self._read(views)
        [result] = self.predictor([list(views.values())], [context])
        answer = self._answer(result, list(views), context, request_id)
        return JSONResponse(answer, headers={"X-Request-ID": request_id})

    def _read(self, views: dict[str, Any]) -> str | None:
        from fibervlm.cad.ocr import read_views

        if not self.ocr:
            return None
        return read_views({chr(ord("a") + k): image for k, image in enumerate(views.values())})

    def _answer(self, result: Any, names: list[str], context: str | None, request_id: str) -> dict[str, Any]:
        from fibervlm.cad.metrics import parse
        from fibervlm.cad.openscad import to_scad

        report = parse(result.raw) if result.valid else None
        return {
            "status": "ok" if report is not None else "invalid",
            "valid": result.valid,
            "error": result.error,
            "report": report.model_dump(mode="json") if report is not None else None,
            "scad": to_scad(report) if report is not None else None,
            "views": names,
            "context": context,
            "raw": result.raw,
            "request_id": request_id,
        }


def build_cad_app(model: str = "tiny-qwen2-vl", adapter: str | None = None, ocr: bool = True) -> Any:
    """The application: `serve.run(build_cad_app(...), name="cad", route_prefix="/cad")`."""
    return CadIngress.bind(model=model, adapter=adapter, ocr=ocr)  # type: ignore[attr-defined]


def run_cad_local(
    *,
    port: int,
    host: str = "127.0.0.1",
    model: str = "tiny-qwen2-vl",
    adapter: str | None = None,
    ocr: bool = True,
) -> int:
    """`fibervlm cad serve`: the drawings app alone at `http://HOST:PORT/cad`, until SIGTERM/SIGINT."""
    from fibervlm.serve.runner import serve_until_stopped

    def start() -> str:
        serve.start(http_options={"host": host, "port": port})
        serve.run(build_cad_app(model, adapter, ocr), name="cad", route_prefix="/cad", blocking=False)
        return f"http://{host}:{port}/cad"

    return serve_until_stopped(start, ["cad"])
