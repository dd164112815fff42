// Draws a journeyctl page: the Chart.js charts from the embedded configs, then the Mermaid
// flows; marks <html data-ready> when both are drawn so tests and people see a finished page.
(function () {
  "use strict";
  var root = document.documentElement;
  var source = document.getElementById("journeyctl-charts");
  var configs = source ? JSON.parse(source.textContent) : {};

  function drawCharts() {
    if (!window.Chart) return;
    Chart.defaults.animation = false;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var config = configs[canvas.getAttribute("data-chart")];
      if (config) new Chart(canvas, config);
    });
  }

  function drawFlows() {
    var flows = document.querySelectorAll("pre.mermaid");
    if (!window.mermaid || flows.length === 0) return Promise.resolve();
    mermaid.initialize({
      startOnLoad: false,
      securityLevel: "strict",
      theme: "neutral",
      maxTextSize: 200000,
      flowchart: { useMaxWidth: true },
    });
    return mermaid.run({ nodes: flows });
  }

  try {
    drawCharts();
  } catch (e) {
    console.error(e);
  }
  drawFlows().then(
    function () { root.setAttribute("data-ready", "1"); },
    function (e) { console.error(e); root.setAttribute("data-ready", "error"); }
  );
})();
