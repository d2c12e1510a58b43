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
      if (status) { status.textContent = status.dataset.copied; }
    }, function () {
      field.select();
      if (status) { status.textContent = status.dataset.copyFailed; }
    });
  });
})();

// The booking page's patient field (clinic/book_appointment.html): as staff type, the matching
// patients (name, date of birth, chart number or phone; the patient list's search) appear in a
// listbox under the field, the ARIA 1.2 combobox pattern: arrow keys move through them, Enter or a
// click chooses one and fills the booking form's chart number, Escape closes; a status line says
// how many were found and which was chosen. Without script the same field is a plain search step.
(function () {
  "use strict";
  var DELAY_MS = 200;

  function setUp(input) {
    var list = document.getElementById("patient-choices");
    var status = document.getElementById("patient-choices-status");
    var target = document.getElementById(input.getAttribute("data-fills"));
    var timer = null, asked = 0;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");

    function options() { return Array.prototype.slice.call(list.querySelectorAll("[role=option]")); }
    function active() { return list.querySelector("[aria-selected=true]"); }
    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function highlight(option) {
      options().forEach(function (o) { o.setAttribute("aria-selected", o === option ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({block: "nearest"});
    }
    function choose(option) {
      target.value = option.getAttribute("data-chart");
      input.value = option.textContent.trim();
      close();
      status.textContent = status.dataset.chosen.replace("{name}", input.value);
    }
    function search() {
      var q = input.value.trim(), mine = ++asked;
      if (!q) { close(); status.textContent = ""; return; }
      fetch(input.getAttribute("data-choices-url") + "?q=" + encodeURIComponent(q), {credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          if (mine !== asked) { return; }  // an answer to an older keystroke
          list.innerHTML = html;
          var count = options().length;
          list.hidden = count === 0;
          input.setAttribute("aria-expanded", count ? "true" : "false");
          input.removeAttribute("aria-activedescendant");
          var said = count === 1 ? status.dataset.foundOne : status.dataset.foundMany;
          status.textContent = count ? said.replace("{count}", count) : status.dataset.none;
        }, function () { status.textContent = status.dataset.failed; });
    }

    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, DELAY_MS); });
    input.addEventListener("keydown", function (event) {
      var all = options(), current = all.indexOf(active());
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (list.hidden || !all.length) { return; }
        event.preventDefault();
        var next = event.key === "ArrowDown" ? Math.min(current + 1, all.length - 1) : Math.max(current - 1, 0);
        highlight(all[next]);
      } else if (event.key === "Enter" && !list.hidden && active()) {
        event.preventDefault();
        choose(active());
      } else if (event.key === "Escape" && !list.hidden) {
        event.preventDefault();
        close();
      }
    });
    list.addEventListener("mousedown", function (event) { event.preventDefault(); });  // keep the focus in the field
    list.addEventListener("click", function (event) {
      var option = event.target.closest("[role=option]");
      if (option) { choose(option); input.focus(); }
    });
    input.addEventListener("blur", close);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-patient-search] input[data-choices-url]").forEach(setUp);
  });
})();

// An import run by the task worker (clinic/import_report.html): its progress bar follows the import
// (the progress address, once a second), and the page loads the report once it is done. Without
// script the page has a link to check again.
(function () {
  "use strict";
  var EVERY_MS = 1000;

  function follow(card) {
    var bar = card.querySelector("progress");
    var text = card.querySelector("[data-progress-text]");
    var status = card.querySelector("[data-progress-status]");
    fetch(card.getAttribute("data-import-progress"), {headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (progress) {
        if (progress && progress.status !== "running") {
          status.textContent = progress.text;
          window.location.reload();
          return;
        }
        if (progress && progress.total) {
          bar.max = progress.total;
          bar.value = progress.done;
          bar.textContent = progress.text;
          text.textContent = progress.text;
        }
        window.setTimeout(function () { follow(card); }, EVERY_MS);
      }, function () { window.setTimeout(function () { follow(card); }, EVERY_MS); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-import-progress]").forEach(follow);
  });
})();
