// DermaDetect portal behaviour that HTMX does not cover. Loaded as a file (CSP: no inline JS).
(function () {
  "use strict";

  // Show a preview of the chosen lesion photo before it is uploaded.
  function bindPreview(root) {
    root.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
      if (input.dataset.bound) { return; }
      input.dataset.bound = "1";
      input.addEventListener("change", function () {
        var target = document.getElementById(input.dataset.preview);
        if (!target) { return; }
        target.replaceChildren();
        var file = input.files && input.files[0];
        if (!file || !file.type.startsWith("image/")) { return; }
        var img = document.createElement("img");
        img.alt = "Preview of the selected photo";
        img.src = URL.createObjectURL(file);
        img.onload = function () { URL.revokeObjectURL(img.src); };
        target.appendChild(img);
      });
    });
  }

  // Print button on the report page.
  function bindPrint(root) {
    root.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }

  function init(root) { bindPreview(root); bindPrint(root); }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (event) { init(event.target); });
  // A network failure during an HTMX request: tell the physician instead of doing nothing.
  document.addEventListener("htmx:sendError", function () {
    window.alert("The server could not be reached. Nothing was lost; please try again.");
  });
})();
