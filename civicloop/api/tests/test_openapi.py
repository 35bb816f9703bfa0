"""The API documents itself, locally: no CDN on closed government networks."""

from __future__ import annotations

from typing import Any


def test_openapi_schema_lists_the_case_endpoints(client: Any, db: None) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/cases",
        "/api/v1/cases/{number}",
        "/api/v1/cases/{number}/dispatch",
        "/api/v1/cases/{number}/submit",
        "/api/v1/cases/on-spot",
        "/api/v1/auth/token",
    ):
        assert path in paths, path


def test_docs_page_loads_its_assets_from_this_server(client: Any, db: None) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/ninja/swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
