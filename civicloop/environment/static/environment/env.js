// Environment pages: outlet charts (hourly values with limit lines), station AQI chart and the
// micro-station map. Data comes from json_script elements; ECharts and Leaflet are the vendor
// files the web app builds (civicloop/web/static/vendor).
(function () {
  "use strict";

  function data(id) {
    var el = id && document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function empty(container, text) {
    var p = document.createElement("p");
    p.className = "muted";
    p.textContent = text || "";
    container.appendChild(p);
  }

  function limitLines(item, label) {
    var lines = [];
    [item.high, item.low].forEach(function (value) {
      if (value !== null && value !== undefined) {
        lines.push({
          yAxis: value, name: label,
          label: { formatter: label + " " + value, position: "insideEndTop" },
        });
      }
    });
    return lines;
  }

  function outletChart(container) {
    var chart = data(container.dataset.echartOutlet);
    if (!chart || !window.echarts) return;
    var label = container.dataset.limitLabel || "";
    chart.series.forEach(function (item) {
      var box = document.createElement("div");
      box.className = "env-chart-one";
      container.appendChild(box);
      if (!item.points.length) {
        empty(box, item.name + "：" + (container.dataset.empty || ""));
        return;
      }
      var plot = window.echarts.init(box);
      plot.setOption({
        title: { text: item.name + "（" + item.unit + "）", textStyle: { fontSize: 14 } },
        tooltip: { trigger: "axis" },
        grid: { left: 48, right: 28, top: 36, bottom: 48 },
        xAxis: { type: "time" },
        yAxis: {
          type: "value", scale: true,
          // Keep the limit lines in view even when every value is far below them.
          max: function (v) {
            return Math.ceil(item.high === null ? v.max : Math.max(v.max, item.high * 1.1));
          },
          min: function (v) {
            return Math.floor(item.low === null ? v.min : Math.min(v.min, item.low * 0.9));
          },
        },
        dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
        series: [{
          type: "line", name: item.name, showSymbol: false, data: item.points,
          markLine: { symbol: "none", lineStyle: { color: "#b42318", type: "dashed" },
                      data: limitLines(item, label) },
        }],
      });
      window.addEventListener("resize", function () { plot.resize(); });
    });
  }

  function aqiChart(container) {
    var chart = data(container.dataset.echartAqi);
    if (!chart || !window.echarts) return;
    if (!chart.points.length) { empty(container, container.dataset.empty); return; }
    var pieces = chart.levels.map(function (level, i) {
      var next = chart.levels[i + 1];
      return { gte: level[0], lt: next ? next[0] : 10000, color: level[1], label: level[2] };
    });
    var plot = window.echarts.init(container);
    plot.setOption({
      tooltip: { trigger: "axis" },
      grid: { left: 40, right: 16, top: 16, bottom: 48 },
      xAxis: { type: "time" },
      yAxis: { type: "value", min: 0 },
      visualMap: { show: false, pieces: pieces, dimension: 1 },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
      series: [{ type: "bar", name: "AQI", data: chart.points }],
    });
    window.addEventListener("resize", function () { plot.resize(); });
  }

  function stationMap(container) {
    var markers = data(container.dataset.stationMap);
    if (!markers || !window.L) return;
    var map = window.L.map(container, { zoomControl: true });
    if (container.dataset.tileUrl) {
      window.L.tileLayer(container.dataset.tileUrl, {
        attribution: container.dataset.tileAttribution || "", maxZoom: 18,
      }).addTo(map);
    }
    var towns = data(container.dataset.towns);
    if (towns && towns.features.length) {
      window.L.geoJSON(towns, {
        style: { color: "#1f4e9c", weight: 1, opacity: 0.7, fillColor: "#1f4e9c", fillOpacity: 0.03 },
        onEachFeature: function (feature, layer) { layer.bindTooltip(feature.properties.name); },
      }).addTo(map);
    }
    var group = window.L.featureGroup();
    markers.forEach(function (m) {
      var text = document.createElement("span");
      text.textContent = m.name + (m.aqi !== null ? " · AQI " + m.aqi + " " + m.category : "");
      var link = document.createElement("a");
      link.href = m.url;
      link.appendChild(text);
      window.L.circleMarker([m.lat, m.lon], {
        radius: 11, weight: 2, color: "#fff", fillColor: m.colour, fillOpacity: 0.95,
      }).bindPopup(link).addTo(group);
    });
    group.addTo(map);
    if (markers.length) map.fitBounds(group.getBounds().pad(0.3));
    else map.setView([29.306, 120.075], 11);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-echart-outlet]").forEach(outletChart);
    document.querySelectorAll("[data-echart-aqi]").forEach(aqiChart);
    document.querySelectorAll("[data-station-map]").forEach(stationMap);
  });
})();
