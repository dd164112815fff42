// Draws a journeyctl page: the Chart.js charts from the embedded configs at once, then, after
// the load event, the Mermaid flows (the library is inlined as text and run only then, so the
// page is readable before its largest script is compiled); marks <html data-ready="1"> when
// everything is drawn, "error" when a drawing failed (the error is on the console).
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

  function loadMermaid() {
    var source = document.getElementById("journeyctl-mermaid");
    if (!source || window.mermaid) return;
    var script = document.createElement("script");
    script.textContent = source.textContent;
    document.head.appendChild(script);
  }

  function drawFlows() {
    var flows = document.querySelectorAll("pre.mermaid");
    if (flows.length === 0) return Promise.resolve();
    loadMermaid();
    if (!window.mermaid) return Promise.reject(new Error("Mermaid did not load"));
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
  function finish() {
    drawFlows().then(
      function () {
        root.setAttribute("data-ready-ms", String(Math.round(performance.now())));
        root.setAttribute("data-ready", "1");
      },
      function (e) { console.error(e); root.setAttribute("data-ready", "error"); }
    );
  }
  if (document.readyState === "complete") setTimeout(finish, 0);
  else window.addEventListener("load", function () { setTimeout(finish, 0); });
})();
