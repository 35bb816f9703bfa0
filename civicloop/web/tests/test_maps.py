"""Region boundaries for the maps."""

from __future__ import annotations


def test_it_serves_the_boundaries_inside_a_region(client_for, people, world):
    response = client_for(people.resident).get("/map/regions/330782001000/grid.geojson")
    data = response.json()
    assert response["Cache-Control"] == "private, max-age=3600"
    assert data["type"] == "FeatureCollection"
    assert sorted(f["properties"]["name"] for f in data["features"]) == [
        "孝子祠社区第一网格",
        "孝子祠社区第二网格",
    ]
    assert data["features"][0]["geometry"]["type"] == "Polygon"


def test_a_region_at_its_own_level_is_itself(client_for, people, world):
    data = client_for(people.resident).get("/map/regions/330782001001001/grid.geojson").json()
    assert [f["properties"]["code"] for f in data["features"]] == ["330782001001001"]


def test_unknown_regions_and_levels_are_not_found(client_for, people, world):
    client = client_for(people.resident)
    assert client.get("/map/regions/999/grid.geojson").status_code == 404
    assert client.get("/map/regions/330782001000/planet.geojson").status_code == 404


def test_maps_need_a_login(client, world):
    assert client.get("/map/regions/330782001000/grid.geojson").status_code == 302
