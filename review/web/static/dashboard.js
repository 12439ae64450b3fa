// The dashboard's charts (review/web/views_stats.py puts their data in #dash-data), drawn by the vendored
// Apache ECharts (static/echarts/). Labels come from the server in the user's language; tooltips are drawn on
// the canvas (renderMode richText), so no name from the data ever becomes HTML.
(function () {
  "use strict";
  var source = document.getElementById("dash-data");
  if (!source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var tooltip = { trigger: "axis", renderMode: "richText", confine: true };
  var legend = { top: 34, type: "scroll" };
  var grid = { left: 16, right: 16, top: 72, bottom: 16, containLabel: true };
  function title(chart) { return { text: chart.title, left: "center", top: 4, textStyle: { fontSize: 14 } }; }

  function empty(chart) {
    return { title: { text: chart.title, left: "center", subtext: data.empty, top: "middle", textStyle: { fontSize: 14 } } };
  }

  function bars(chart, horizontal) {
    if (!chart.x.length) { return empty(chart); }
    var category = { type: "category", data: chart.x, axisLabel: { interval: 0, width: 110, overflow: "truncate" } };
    var value = { type: "value", minInterval: 1 };
    return {
      title: title(chart),
      tooltip: tooltip, legend: legend, grid: grid,
      xAxis: horizontal ? value : category, yAxis: horizontal ? category : value,
      series: chart.series.map(function (s) { return { name: s.name, type: "bar", data: s.data }; })
    };
  }

  var options = {
    trend: function (chart) {
      if (!chart.x.length) { return empty(chart); }
      return {
        title: title(chart),
        tooltip: tooltip, legend: legend, grid: grid,
        xAxis: { type: "category", data: chart.x }, yAxis: { type: "value", minInterval: 1 },
        series: chart.series.map(function (s) { return { name: s.name, type: "line", data: s.data, symbolSize: 7 }; })
      };
    },
    category: function (chart) { return bars(chart, true); },
    platform: function (chart) { return bars(chart, false); },
    funnel: function (chart) {
      if (!chart.data.some(function (d) { return d.value > 0; })) { return empty(chart); }
      return {
        title: title(chart),
        tooltip: { trigger: "item", renderMode: "richText", confine: true },
        series: [{ type: "funnel", top: 40, bottom: 16, sort: "none", minSize: "20%", gap: 2, data: chart.data,
                   label: { show: true, position: "inside", formatter: "{b}: {c}" } }]
      };
    }
  };

  var drawn = [];
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var name = el.getAttribute("data-chart");
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(options[name](data[name]));
    el.setAttribute("data-drawn", "1");
    drawn.push(chart);
  });
  window.addEventListener("resize", function () { drawn.forEach(function (c) { c.resize(); }); });
})();
