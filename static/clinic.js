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

// Copy buttons (Settings: the public Request portal access address). Without script the address is a
// readonly field to select and copy; the button appears only when it can work.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    if (!navigator.clipboard) { return; }
    document.querySelectorAll("button[data-copy]").forEach(function (button) { button.hidden = false; });
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var id = button.getAttribute("data-copy");
    var field = document.getElementById(id);
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    navigator.clipboard.writeText(field.value).then(function () {
      if (status) { status.textContent = "Copied."; }
    }, function () {
      field.select();
      if (status) { status.textContent = "Press Ctrl+C (or Cmd+C) to copy the selected address."; }
    });
  });
})();
