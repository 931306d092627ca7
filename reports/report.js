// loadmatrix report.html: filters kept in the URL (?outcome=&mode=&producer=&consumer=&q=),
// so a link reproduces the view. Inlined by harness/reports/html_report.cpp.
(function () {
  "use strict";
  var form = document.getElementById("filter-form");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#cell-table tr.cell"));
  var grids = Array.prototype.slice.call(document.querySelectorAll("table.grid"));
  var fields = ["outcome", "mode", "producer", "consumer", "q"];
  // The cell table's height until the browser lays it out (report.css), estimated for every row
  // by the generator; scaled to the rows a filter leaves, so the page is not mostly blank space.
  var table = document.getElementById("all-cells");
  var estimate = Number((/(\d+)px/.exec(table.style.containIntrinsicSize) || [0, 0])[1]);

  function current() {
    var values = {};
    fields.forEach(function (name) { values[name] = form.elements[name].value.trim(); });
    return values;
  }

  function apply(values) {
    var query = values.q.toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var d = row.dataset;
      var match = (!values.outcome || d.outcome === values.outcome) &&
                  (!values.mode || d.mode === values.mode) &&
                  (!values.producer || d.producer === values.producer) &&
                  (!values.consumer || d.consumer === values.consumer) &&
                  (!query || d.text.indexOf(query) !== -1);
      if (row.hidden === match) { row.hidden = !match; } // only what changes is re-laid out
      if (match) { shown += 1; }
    });
    grids.forEach(function (grid) {
      grid.closest("section").hidden = !!values.mode && grid.dataset.mode !== values.mode;
    });
    var height = "auto " + Math.round(estimate * shown / Math.max(rows.length, 1)) + "px";
    if (estimate && table.style.containIntrinsicSize !== height) {
      table.style.containIntrinsicSize = height;
    }
    document.body.dataset.visibleCells = String(shown);
    document.getElementById("filter-status").textContent =
      shown + " of " + rows.length + " cells shown";
  }

  function fromUrl() {
    var params = new URLSearchParams(window.location.search);
    fields.forEach(function (name) { form.elements[name].value = params.get(name) || ""; });
  }

  function toUrl(values) {
    var params = new URLSearchParams();
    fields.forEach(function (name) { if (values[name]) { params.set(name, values[name]); } });
    var search = params.toString();
    history.replaceState(null, "", search ? "?" + search + window.location.hash
                                          : window.location.pathname + window.location.hash);
  }

  form.addEventListener("input", function () { var v = current(); toUrl(v); apply(v); });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = button.parentElement.querySelector("pre").textContent;
      navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
    });
  });
  form.hidden = false;
  fromUrl();
  apply(current());
})();
