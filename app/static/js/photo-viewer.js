// The full-resolution photo viewer: a link marked data-viewer opens its image in a modal
// dialog that zooms (buttons, wheel, + and -, double click, pinch), pans (drag, arrow keys) and
// fits again (0); Escape or Close ends it. Without JavaScript the link shows the file itself.
// A link that also carries data-viewer-also="<url of a second photo>" opens both side by side
// (one above the other on a portrait screen), zoomed and panned together: two visits of a
// lesion compared at full resolution (data-viewer-labels="Visit 1|Visit 3" names them).
// CSP: loaded as a file; the transform is set through the CSSOM (not a style attribute).
(function () {
  "use strict";

  var MIN = 1, MAX = 8, STEP = 1.25, PAN = 60;

  function button(label, text, action) {
    var element = document.createElement("button");
    element.type = "button";
    element.className = "secondary";
    element.setAttribute("aria-label", label);
    element.textContent = text;
    element.addEventListener("click", action);
    return element;
  }

  function open(link) {
    var dialog = document.createElement("dialog");
    dialog.className = "photo-viewer";
    dialog.setAttribute("aria-label", "Photo of the lesion at full size");
    var stage = document.createElement("div");
    stage.className = "viewer-stage";
    var sources = [link.href].concat(link.dataset.viewerAlso ? [link.dataset.viewerAlso] : []);
    var labels = (link.dataset.viewerLabels || "").split("|");
    var images = sources.map(function (source, index) {
      var img = document.createElement("img");
      img.src = source;
      img.alt = labels[index] || (link.querySelector("img") || {}).alt || "Photo of the lesion";
      img.draggable = false;
      if (sources.length === 1) { stage.appendChild(img); return img; }
      var pane = document.createElement("figure");
      pane.className = "viewer-pane";
      var caption = document.createElement("figcaption");
      caption.textContent = labels[index] || "";
      pane.append(img, caption);
      stage.appendChild(pane);
      return img;
    });
    if (sources.length > 1) {
      stage.classList.add("viewer-pair");
      dialog.setAttribute("aria-label", "Two photos of the lesion at full size, zoomed together");
    }

    var view = { scale: 1, x: 0, y: 0 };
    var status = document.createElement("span");
    status.className = "viewer-zoom";
    status.setAttribute("aria-live", "polite");
    function apply() {
      view.scale = Math.min(MAX, Math.max(MIN, view.scale));
      if (view.scale === 1) { view.x = 0; view.y = 0; }
      images.forEach(function (img) {
        img.style.transform = "translate(" + view.x + "px, " + view.y + "px) scale(" + view.scale + ")";
      });
      status.textContent = Math.round(view.scale * 100) + " %";
      dialog.dataset.scale = String(view.scale);
    }
    function zoom(factor) { view.scale *= factor; apply(); }
    function fit() { view.scale = 1; apply(); }

    var bar = document.createElement("div");
    bar.className = "viewer-toolbar";
    bar.append(
      button("Zoom out", "−", function () { zoom(1 / STEP); }),
      status,
      button("Zoom in", "+", function () { zoom(STEP); }),
      button("Fit to the screen", "Fit", fit),
      button("Close the photo", "Close", function () { dialog.close(); })
    );
    bar.lastChild.classList.add("viewer-close");
    dialog.append(bar, stage);
    document.body.appendChild(dialog);

    dialog.addEventListener("keydown", function (event) {
      var keys = {
        "+": function () { zoom(STEP); }, "=": function () { zoom(STEP); },
        "-": function () { zoom(1 / STEP); }, "0": fit,
        ArrowLeft: function () { view.x += PAN; apply(); }, ArrowRight: function () { view.x -= PAN; apply(); },
        ArrowUp: function () { view.y += PAN; apply(); }, ArrowDown: function () { view.y -= PAN; apply(); }
      };
      if (keys[event.key] && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        keys[event.key]();
      }
    });
    stage.addEventListener("wheel", function (event) {
      event.preventDefault();
      zoom(event.deltaY < 0 ? STEP : 1 / STEP);
    }, { passive: false });
    stage.addEventListener("dblclick", function () { if (view.scale > 1) { fit(); } else { zoom(STEP * STEP); } });

    // Drag to pan (one pointer), pinch to zoom (two pointers: mouse, pen or fingers alike).
    var pointers = new Map();
    var pinch = null;
    function distance() {
      var points = Array.from(pointers.values());
      return Math.hypot(points[0].x - points[1].x, points[0].y - points[1].y);
    }
    stage.addEventListener("pointerdown", function (event) {
      stage.setPointerCapture(event.pointerId);
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      if (pointers.size === 2) { pinch = { distance: distance(), scale: view.scale }; }
    });
    stage.addEventListener("pointermove", function (event) {
      var last = pointers.get(event.pointerId);
      if (!last) { return; }
      var now = { x: event.clientX, y: event.clientY };
      pointers.set(event.pointerId, now);
      if (pinch && pointers.size === 2) {
        view.scale = pinch.scale * distance() / pinch.distance;
      } else if (pointers.size === 1 && view.scale > 1) {
        view.x += now.x - last.x;
        view.y += now.y - last.y;
      }
      apply();
    });
    function release(event) {
      pointers.delete(event.pointerId);
      if (pointers.size < 2) { pinch = null; }
    }
    stage.addEventListener("pointerup", release);
    stage.addEventListener("pointercancel", release);

    dialog.addEventListener("close", function () { dialog.remove(); link.focus(); });
    apply();
    dialog.showModal();
    stage.tabIndex = -1;
    stage.focus();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-viewer]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    event.preventDefault();
    open(link);
  });
})();
