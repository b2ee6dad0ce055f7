// The lesion pages' enhancements (loaded as a file: CSP). Without JavaScript both still work:
// a click on the body map posts its coordinates (an image input), and the slider overlay's
// form moves the line by reloading the page.
(function () {
  "use strict";

  // --- body map: a click shows the dot at once and saves it; arrow keys move it, Enter saves.
  var STEP = 3, BIG = 12;

  function mapParts(input) {
    var form = input.form;
    var dot = form.querySelector(".body-map-dot circle");
    var size = Number(input.getAttribute("width")) || 300;
    return { form: form, dot: dot, size: size };
  }

  function field(form, name, value) {
    var element = form.querySelector('input[type=hidden][name="' + name + '"]');
    if (!element) {
      element = document.createElement("input");
      element.type = "hidden";
      element.name = name;
      form.appendChild(element);
    }
    element.value = String(Math.round(value));
  }

  function show(parts, x, y) {
    parts.dot.setAttribute("cx", String(x));
    parts.dot.setAttribute("cy", String(y));
    parts.dot.classList.remove("unplaced");
    parts.dot.classList.add("pending");
  }

  function save(input, x, y) {
    var parts = mapParts(input);
    show(parts, x, y);
    field(parts.form, "map.x", x);
    field(parts.form, "map.y", y);
    parts.form.requestSubmit();
  }

  document.addEventListener("click", function (event) {
    var input = event.target.closest && event.target.closest("input[data-body-map]");
    if (!input || event.detail === 0) { return; }  // detail 0: Enter/Space, the keys below
    event.preventDefault();
    var box = input.getBoundingClientRect();
    var parts = mapParts(input);
    save(input, (event.clientX - box.left) * parts.size / box.width,
      (event.clientY - box.top) * parts.size / box.height);
  });

  document.addEventListener("keydown", function (event) {
    var input = event.target.closest && event.target.closest("input[data-body-map]");
    if (!input || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var parts = mapParts(input);
    var x = Number(parts.dot.getAttribute("cx")), y = Number(parts.dot.getAttribute("cy"));
    if (x < 0 || y < 0) { x = parts.size / 4; y = parts.size / 3; }  // the front's chest
    var step = event.shiftKey ? BIG : STEP;
    var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      event.preventDefault();
      x = Math.min(parts.size - 1, Math.max(0, x + moves[event.key][0]));
      y = Math.min(parts.size - 1, Math.max(0, y + moves[event.key][1]));
      show(parts, x, y);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      save(input, x, y);
    }
  });

  // --- the slider overlay: the later photo over the earlier one, cut at the line.
  function setReveal(overlay, range, value) {
    value = Math.min(100, Math.max(0, value));
    range.value = String(value);
    var top = overlay.querySelector("[data-overlay-top]");
    var line = overlay.querySelector("[data-overlay-line]");
    // CSSOM, not a style attribute (CSP); the reveal-N classes are the no-JavaScript positions.
    [top, line].forEach(function (element) {
      element.className = element.className.replace(/\breveal-\d+\b/g, "").trim();
    });
    top.style.clipPath = "inset(0 0 0 " + value + "%)";
    line.style.left = value + "%";
    var before = range.dataset.before || "", after = range.dataset.after || "";
    range.setAttribute("aria-valuetext", "Line at " + Math.round(value) + " %: " + before + " to the left, " + after + " to the right");
  }

  function bindOverlay(overlay) {
    if (overlay.dataset.bound) { return; }
    overlay.dataset.bound = "1";
    var section = overlay.closest("section") || document;
    var range = section.querySelector("input[data-overlay-range]");
    if (!range) { return; }
    range.step = "1";
    range.addEventListener("input", function () { setReveal(overlay, range, Number(range.value)); });
    // A mouse or pen moves the line from the press on. A finger (touch-action: pan-y) moves it
    // once it goes sideways, or with a tap; a finger going up or down scrolls the page and
    // leaves the line where it was.
    var dragging = false, start = null, sideways = null;
    function follow(event) {
      var box = overlay.getBoundingClientRect();
      setReveal(overlay, range, (event.clientX - box.left) * 100 / box.width);
    }
    overlay.addEventListener("pointerdown", function (event) {
      dragging = true;
      start = { x: event.clientX, y: event.clientY };
      sideways = event.pointerType === "touch" ? null : true;
      if (sideways) {
        overlay.setPointerCapture(event.pointerId);
        follow(event);
      }
    });
    overlay.addEventListener("pointermove", function (event) {
      if (!dragging) { return; }
      if (sideways === null) {
        var dx = Math.abs(event.clientX - start.x), dy = Math.abs(event.clientY - start.y);
        if (Math.max(dx, dy) < 6) { return; }  // not yet a direction
        sideways = dx > dy;
        if (!sideways) { dragging = false; return; }  // the page scrolls
      }
      follow(event);
    });
    overlay.addEventListener("pointerup", function (event) {
      if (dragging && sideways === null) { follow(event); }  // a tap
      dragging = false;
    });
    overlay.addEventListener("pointercancel", function () { dragging = false; });
    setReveal(overlay, range, Number(range.value));
  }

  function init(root) { root.querySelectorAll("[data-overlay]").forEach(bindOverlay); }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (event) { init(event.detail.target || document); });
})();
