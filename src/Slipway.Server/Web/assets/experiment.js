// Browser-side code of the experiment pages.
(function () {
  "use strict";

  // The SDK writes titles the way Plotly.js 1.x took them: `title: "text"` and `titlefont`/`titleside` beside it
  // (report_histogram/scatter2d/confusion_matrix/table, matplotlib figures). Plotly.js 3 reads only `title: {text, font,
  // side}` and draws nothing for the old form, so axis and chart titles are moved into that shape first.
  function titled(obj) {
    if (!obj || typeof obj !== "object") return;
    const t = obj.title;
    if (t === null || t === "") delete obj.title;
    else if (t !== undefined && typeof t !== "object") obj.title = { text: String(t) };
    if (obj.titlefont && typeof obj.titlefont === "object") obj.title = Object.assign({}, obj.title, { font: obj.titlefont });
    delete obj.titlefont;
    if (obj.titleside !== undefined) obj.title = Object.assign({}, obj.title, { side: obj.titleside });
    delete obj.titleside;
  }

  function titledAxes(container) {
    if (!container || typeof container !== "object") return;
    for (const key of Object.keys(container)) {
      const value = container[key];
      if (/^[xyz]axis\d*$/.test(key) || /^coloraxis\d*$/.test(key)) {
        titled(value);
        if (value) titled(value.colorbar);
      } else if (/^(scene|polar|ternary)\d*$/.test(key)) {
        titledAxes(value);
      }
    }
  }

  function normalize(figure) {
    const layout = figure.layout && typeof figure.layout === "object" ? figure.layout : {};
    titled(layout);
    titledAxes(layout);
    const data = Array.isArray(figure.data) ? figure.data : [];
    for (const trace of data) {
      if (!trace || typeof trace !== "object") continue;
      titled(trace.colorbar);
      if (trace.marker) titled(trace.marker.colorbar);
    }
    return { data, layout };
  }

  window.slipwayExperiment = {
    // A reported figure arrives as the SDK stored it: JSON text of {data, layout}.
    async plot(el, text) {
      if (!el) return;
      let figure;
      try { figure = JSON.parse(text); } catch { el.textContent = "This plot is not valid JSON."; return; }
      if (!figure || typeof figure !== "object") { el.textContent = "This plot is not a figure."; return; }
      await window.slipway.plotly(el, normalize(figure));
    },
  };
})();
