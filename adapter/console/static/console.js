// Small keyboard helpers for every console page: "/" focuses the first search field (or goes
// to the search page), and "Back" links return to the previous page.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    var first = document.getElementById("first-key");
    event.preventDefault();
    if (first) { first.focus(); first.select(); } else { window.location.href = "/console/search"; }
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("[data-back]") : null;
    if (link) { event.preventDefault(); window.history.back(); }
  });
})();
