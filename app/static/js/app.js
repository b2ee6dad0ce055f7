// DermaDetect portal behaviour that htmx does not cover. Loaded as a file (CSP: no inline JS).
// Everything here is an enhancement: every page and form also works without JavaScript.
(function () {
  "use strict";

  // Lets the CSS hide what only the no-JavaScript page needs (e.g. the filters' Apply button).
  document.documentElement.classList.add("js");

  // The lesion photo (preview, downscale, progress, upload) is photo-upload.js's; the
  // full-size viewer photo-viewer.js's.

  // Print button on the report page.
  function bindPrint(root) {
    root.querySelectorAll("[data-print]").forEach(function (button) {
      if (button.dataset.bound) { return; }
      button.dataset.bound = "1";
      button.addEventListener("click", function () { window.print(); });
    });
  }

  // Times are rendered in UTC by the server; show them in the reader's own time zone.
  var timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (element) {
      var date = new Date(element.getAttribute("datetime"));
      if (!isNaN(date)) {
        element.title = element.textContent;
        element.textContent = timeFormat.format(date);
      }
    });
  }

  function init(root) { bindPrint(root); localTimes(root); bindNoneLabels(root); }

  document.addEventListener("DOMContentLoaded", function () { init(document); });

  document.addEventListener("htmx:afterSwap", function (event) {
    var root = event.detail.target || event.target;
    init(root);
    // Move the focus to the new step (question, results, error), as a page load would.
    var focus = root.querySelector("[data-focus]");
    if (focus) {
      focus.focus({ preventScroll: true });
      // data-focus-block="start": bring what follows into view too (a saved review's report).
      focus.scrollIntoView({ block: focus.dataset.focusBlock || "nearest" });
    }
  });

  // Questionnaire keys: 1-9 choose the numbered choice (a scale's buttons: their own digit; a
  // choice button submits at once, a checkbox toggles); Enter saves a checkbox question. Not
  // while typing in a field, nor with a modifier key.
  var TYPING = "input:not([type=checkbox]):not([type=radio]), textarea, select, [contenteditable]";
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.target.closest && event.target.closest(TYPING)) { return; }
    var group = document.querySelector("#questionnaire [data-shortcuts]");
    if (!group) { return; }
    if (/^[0-9]$/.test(event.key)) {
      var control = group.querySelector('[data-key="' + event.key + '"]');
      if (control && !control.disabled) {
        event.preventDefault();
        control.click();
      }
    } else if (event.key === "Enter" && !event.target.closest("button, a, summary")) {
      var save = group.form && group.form.querySelector("button.save-answer");
      if (save && !save.disabled) {
        event.preventDefault();
        group.form.requestSubmit(save);
      }
    }
  });

  // A checkbox question with nothing ticked: its button says that this answers "none".
  function bindNoneLabels(root) {
    root.querySelectorAll("button[data-none-label]").forEach(function (button) {
      if (button.dataset.bound) { return; }
      button.dataset.bound = "1";
      var saveLabel = button.textContent;
      var update = function () {
        var ticked = button.form.querySelector("input[type=checkbox]:checked");
        button.textContent = ticked ? saveLabel : button.dataset.noneLabel;
      };
      button.form.addEventListener("change", update);
      update();
    });
  }

  // Plain forms that post (log in, log out): once sent, their buttons wait for the next page,
  // so that a second click cannot post again (htmx forms use hx-disabled-elt instead). Disabled
  // after the submit event, so that the clicked button's name and value are still sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form.hasAttribute("hx-post") || form.method !== "post") { return; }
    window.setTimeout(function () {
      form.querySelectorAll("button:not([type=button])").forEach(function (button) {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
      });
    }, 0);
  });
  // Coming back to a page from the history cache: its buttons work again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("button[aria-busy=true]").forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    });
  });

  // A network failure during an htmx request: say so calmly instead of doing nothing.
  var banner = function () { return document.getElementById("connection-error"); };
  document.addEventListener("htmx:sendError", function () {
    var element = banner();
    if (element) { element.hidden = false; element.scrollIntoView({ block: "nearest" }); }
  });
  document.addEventListener("htmx:beforeRequest", function () {
    var element = banner();
    if (element) { element.hidden = true; }
  });
})();
