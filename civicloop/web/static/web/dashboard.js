// ECharts for the KPI dashboard: a bar or line chart per [data-chart] element, drawn from the
// json_script the page renders; a click on a bar or point opens the cases behind it.
(function () {
  "use strict";

  var COLOURS = ["#1f4e9c", "#b45309", "#0f766e", "#7c3aed", "#b42318", "#15803d"];

  function crowded(labels) {
    var chars = labels.reduce(function (n, label) { return n + label.length; }, 0);
    return labels.length > 6 || chars > 30;
  }

  function option(data) {
    var tilt = crowded(data.labels);
    return {
      color: COLOURS,
      animation: false,
      grid: { left: 8, right: 16, top: 48, bottom: 8, containLabel: true },
      legend: { top: 0, type: "scroll" },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          return items.map(function (item) {
            var counts = data.series[item.seriesIndex].counts[item.dataIndex];
            var value = item.value === null || item.value === undefined ? "—" : item.value + "%";
            return item.marker + item.seriesName + "：" + value + "（" + counts + "）";
          }).join("<br>");
        },
      },
      xAxis: {
        type: "category",
        data: data.labels,
        axisLabel: { interval: 0, rotate: tilt ? 35 : 0, width: 120, overflow: "truncate" },
      },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: data.series.map(function (s) {
        return { name: s.name, type: data.type, data: s.values, connectNulls: true, barMaxWidth: 28 };
      }),
    };
  }

  function draw(el) {
    if (el._chart || !window.echarts) return;
    var data = JSON.parse(document.getElementById(el.dataset.chart).textContent);
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption(option(data));
    chart.on("click", function (params) {
      var link = data.series[params.seriesIndex].links[params.dataIndex];
      if (link) window.location.href = link;
    });
    el._chart = chart;
    window.addEventListener("resize", function () { chart.resize(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart]").forEach(draw);
  });
})();
