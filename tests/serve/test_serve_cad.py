"""The drawings task on Serve: one request with a part's views as several files, one CAD answer."""

from __future__ import annotations

import httpx
import pytest

from fibervlm.cad.drawing import draw_part
from fibervlm.cad.parts import sample_part
from fibervlm.schemas import CadReport


def _png(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.slow
def test_a_part_in_one_request_with_several_files(served) -> None:
    from ray import serve

    from fibervlm.serve.cad import build_cad_app

    serve.run(build_cad_app(), name="cad", route_prefix="/cad", blocking=False)
    root = served.url.rstrip("/")
    part = sample_part(seed=4, index=2)
    drawing = draw_part(part)
    files = [("files", (f"{part.part_id}_{k}.png", _png(v), "image/png")) for k, v in drawing.views.items()]
    try:
        with httpx.Client(base_url=f"{root}/cad", timeout=120) as http:
            answer = http.post("/v1/parts", files=files, data={"context": drawing.text})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["views"] == [name for _, (name, _, _) in files]
            assert body["valid"] and body["status"] == "ok"  # the grammar: schema-valid by construction
            CadReport.model_validate(body["report"])
            assert "difference()" in body["scad"] and body["context"] == drawing.text
            broken = http.post("/v1/parts", files=[*files[:1], ("files", ("x_b.png", b"nope", "image/png"))])
            assert broken.status_code == 422
            assert broken.json()["code"] == "not_an_image" and "x_b.png" in broken.json()["error"]
            assert http.post("/v1/parts", data={"context": "x"}).json()["code"] == "no_files"
    finally:
        serve.delete("cad")
