// The appointment window: htmx loads it into a <dialog> over the calendar; this opens and closes it.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = event.detail.target.closest("dialog");
    if (!dialog) { return; }
    if (!dialog.open) { dialog.showModal(); }
    var focus = dialog.querySelector("[data-focus]") || dialog.querySelector("h2");
    if (focus) { focus.focus(); }
  });
  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) { event.preventDefault(); closer.closest("dialog").close(); }
  });
  document.addEventListener("close", function (event) {
    var opener = document.querySelector("[data-opened-window]");
    if (opener) { opener.removeAttribute("data-opened-window"); opener.focus(); }
  }, true);
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt.matches("a[data-window]")) {
      document.querySelectorAll("[data-opened-window]").forEach(function (e) { e.removeAttribute("data-opened-window"); });
      elt.setAttribute("data-opened-window", "");
    }
  });
})();
