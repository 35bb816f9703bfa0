// Leaflet maps for every element with [data-map].
//
// Tiles are optional (data-tile-url from settings.MAP_TILE_URL). Without them, or when they
// cannot be reached on a closed network, the map still works: a plain grid is drawn under the
// region boundaries (GeoJSON from the server), the case markers and the picked point.
//
// data-regions     URL of a GeoJSON FeatureCollection of region boundaries
// data-points      id of a json_script element: [{number, lat, lon, state, tone, title, url}]
// data-pick-lat/-lon  ids of the inputs a click (or "use my location") writes to
// data-place-url/-target  where to ask which grid a picked point is in, and where to show it
// data-centre      "lat,lon" to start from when nothing else tells where to look
(function () {
  "use strict";

  var TONES = {
    new: "#1d4ed8", wait: "#b45309", work: "#7c3aed",
    check: "#0f766e", done: "#15803d", off: "#6b7280",
  };
  var FALLBACK_CENTRE = [29.306, 120.075]; // 义乌 city centre, when the data has no centre

  function plainGrid() {
    var Grid = L.GridLayer.extend({
      createTile: function () {
        var tile = document.createElement("div");
        tile.className = "map-grid-tile";
        return tile;
      },
    });
    return new Grid({ tileSize: 128 });
  }

  function baseLayer(map, el) {
    plainGrid().addTo(map);
    var url = el.dataset.tileUrl;
    if (url) {
      L.tileLayer(url, {
        attribution: el.dataset.tileAttribution || "",
        maxZoom: 18,
        subdomains: el.dataset.tileSubdomains || "abc",
      }).addTo(map);
    }
  }

  function escape(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }

  function addPoints(map, el) {
    var source = el.dataset.points && document.getElementById(el.dataset.points);
    if (!source) return null;
    var points = JSON.parse(source.textContent);
    var group = L.featureGroup();
    points.forEach(function (p) {
      L.circleMarker([p.lat, p.lon], {
        radius: 8, weight: 2, color: "#fff", fillOpacity: 0.9,
        fillColor: TONES[p.tone] || TONES.off,
      })
        .bindPopup(
          '<a href="' + escape(p.url) + '"><strong>' + escape(p.number) + "</strong></a><br>" +
          escape(p.title) + " · " + escape(p.state)
        )
        .addTo(group);
    });
    group.addTo(map);
    return points.length ? group : null;
  }

  function addRegions(map, el, fit) {
    if (!el.dataset.regions) return;
    fetch(el.dataset.regions, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.features.length) return;
        var layer = L.geoJSON(data, {
          style: { color: "#1f4e9c", weight: 1.5, opacity: 0.8, fillColor: "#1f4e9c", fillOpacity: 0.04 },
          interactive: !el.dataset.pickLat,
          onEachFeature: function (feature, l) {
            l.bindTooltip(feature.properties.name, { sticky: true });
          },
        }).addTo(map);
        layer.bringToBack();
        if (fit) map.fitBounds(layer.getBounds(), { padding: [8, 8], animate: false });
      });
  }

  // ------------------------------------------------------------ picking a location

  function pickedPoint(el) {
    var lat = parseFloat(document.getElementById(el.dataset.pickLat).value);
    var lon = parseFloat(document.getElementById(el.dataset.pickLon).value);
    return isNaN(lat) || isNaN(lon) ? null : [lat, lon];
  }

  function showPlace(el, lat, lon) {
    if (!el.dataset.placeUrl || !window.htmx) return;
    var url = el.dataset.placeUrl + "?lat=" + lat.toFixed(6) + "&lon=" + lon.toFixed(6);
    htmx.ajax("GET", url, { target: "#" + el.dataset.placeTarget, swap: "innerHTML" });
  }

  function pick(el, latlng, zoom) {
    var map = el._map;
    var latInput = document.getElementById(el.dataset.pickLat);
    latInput.value = latlng[0].toFixed(6);
    document.getElementById(el.dataset.pickLon).value = latlng[1].toFixed(6);
    // Hidden inputs fire no events of their own: say the location changed (similar cases).
    latInput.dispatchEvent(new Event("change", { bubbles: true }));
    if (!el._marker) {
      el._marker = L.circleMarker(latlng, {
        radius: 11, weight: 3, color: "#fff", fillColor: "#b42318", fillOpacity: 1,
      }).addTo(map);
    }
    el._marker.setLatLng(latlng);
    if (zoom) map.setView(latlng, Math.max(map.getZoom(), zoom));
    showPlace(el, latlng[0], latlng[1]);
  }

  function locate(el, button) {
    var place = document.getElementById(el.dataset.placeTarget);
    if (!navigator.geolocation) {
      place.textContent = el.dataset.locateFailed;
      return;
    }
    place.textContent = el.dataset.locating;
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        button.disabled = false;
        pick(el, [pos.coords.latitude, pos.coords.longitude], 16);
      },
      function (err) {
        button.disabled = false;
        place.textContent = err.code === 1 ? el.dataset.locateDenied : el.dataset.locateFailed;
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  }

  function initPicking(el) {
    el._map.on("click", function (e) { pick(el, [e.latlng.lat, e.latlng.lng], 0); });
    var point = pickedPoint(el);
    if (point) pick(el, point, 16);
  }

  // The map survives form swaps (hx-preserve); the place line under it is new and empty.
  function refreshPlace(el) {
    var place = document.getElementById(el.dataset.placeTarget);
    var point = pickedPoint(el);
    if (place && !place.textContent.trim() && point) showPlace(el, point[0], point[1]);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-locate]");
    var el = button && document.getElementById(button.dataset.locate);
    if (el && el._map) locate(el, button);
  });

  // ------------------------------------------------------------ setup

  function startView(el) {
    if (el.dataset.pickLat && pickedPoint(el)) return { centre: pickedPoint(el), zoom: 16 };
    if (el.dataset.centre) {
      var c = el.dataset.centre.split(",").map(parseFloat);
      return { centre: c, zoom: 12 };
    }
    return { centre: FALLBACK_CENTRE, zoom: 12 };
  }

  function initMap(el) {
    if (el._map) {
      if (el.dataset.pickLat) refreshPlace(el);
      return;
    }
    if (!window.L) return;
    var view = startView(el);
    var map = L.map(el, { attributionControl: !!el.dataset.tileUrl }).setView(view.centre, view.zoom);
    el._map = map;
    baseLayer(map, el);
    var points = addPoints(map, el);
    if (points) {
      map.fitBounds(points.getBounds(), { padding: [24, 24], maxZoom: 16, animate: false });
    }
    var fitRegions = !points && !(el.dataset.pickLat && pickedPoint(el));
    addRegions(map, el, fitRegions);
    if (el.dataset.pickLat) initPicking(el);
  }

  function init(root) {
    if (root.matches && root.matches("[data-map]")) initMap(root);
    root.querySelectorAll("[data-map]").forEach(initMap);
  }

  // A map inside a closed <details> (an action form) has no size until it is opened.
  document.addEventListener("toggle", function (event) {
    if (!event.target.open) return;
    event.target.querySelectorAll("[data-map]").forEach(function (el) {
      if (!el._map) return;
      el._map.invalidateSize();
      var point = el.dataset.pickLat && pickedPoint(el);
      if (point) el._map.setView(point, 16);
    });
  }, true);

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
})();
