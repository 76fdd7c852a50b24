// Browser-side code of the experiment pages.
(function () {
  "use strict";
  window.slipwayExperiment = {
    // A reported figure arrives as the SDK stored it: JSON text of {data, layout}.
    async plot(el, text) {
      if (!el) return;
      let figure;
      try { figure = JSON.parse(text); } catch { el.textContent = "This plot is not valid JSON."; return; }
      await window.slipway.plotly(el, figure);
    },
  };
})();
