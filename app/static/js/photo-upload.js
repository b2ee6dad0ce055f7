// The lesion photo before and while it is sent: a preview, a downscale in the browser to the
// longest side the AI Service works with (data-max-side, the PHOTO_UPLOAD_MAX_SIDE setting),
// the EXIF orientation applied, a real upload progress bar, and the upload started as soon as
// the photo is chosen (data-auto-upload); a photo of more pixels than the server accepts
// (data-max-pixels, MAX_IMAGE_PIXELS) is refused before it is decoded. Without JavaScript the form sends the full file, and
// the server applies the orientation and the size limit itself. CSP: loaded as a file.
(function () {
  "use strict";

  function megabytes(bytes) {
    return (bytes / 1048576).toFixed(1).replace(/\.0$/, "") + " MB";
  }

  // A File of the photo with its longest side at most maxSide pixels (JPEG), or null to send the
  // original: already small enough, or a format this browser cannot decode (HEIC: the server
  // converts it). createImageBitmap applies the EXIF orientation ("from-image"), so the pixels
  // are upright and the new file needs no orientation tag.
  function downscaled(file, maxSide) {
    if (!maxSide || !window.createImageBitmap || !file.type.startsWith("image/")) {
      return Promise.resolve(null);
    }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var longest = Math.max(bitmap.width, bitmap.height);
      if (longest <= maxSide) { bitmap.close(); return null; }
      var scale = maxSide / longest;
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      var context = canvas.getContext("2d");
      context.imageSmoothingQuality = "high";
      context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          var name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
          resolve(blob ? new File([blob], name, { type: "image/jpeg" }) : null);
        }, "image/jpeg", 0.92);
      });
    }).catch(function () { return null; });
  }

  // The photo's size in pixels ({width, height}), or null when this browser cannot read it
  // (HEIC, not an image). An <img> that is never shown reads the size from the file's header
  // without decoding its pixels, so a decompression bomb is caught before createImageBitmap
  // (or a preview) would spend seconds and gigabytes decoding it.
  function pixelSize(file) {
    if (!file.type.startsWith("image/")) { return Promise.resolve(null); }
    return new Promise(function (resolve) {
      var probe = new Image();
      var url = URL.createObjectURL(file);
      probe.onload = function () {
        URL.revokeObjectURL(url);
        resolve({ width: probe.naturalWidth, height: probe.naturalHeight });
      };
      probe.onerror = function () { URL.revokeObjectURL(url); resolve(null); };
      probe.src = url;
    });
  }

  function showPreview(input, file) {
    var target = document.getElementById(input.dataset.preview);
    if (!target) { return; }
    target.replaceChildren();
    if (!file || !file.type.startsWith("image/")) { return; }
    var img = document.createElement("img");
    img.alt = "Preview of the selected photo";
    img.src = URL.createObjectURL(file);
    img.onload = function () { URL.revokeObjectURL(img.src); };
    target.appendChild(img);
  }

  function progressOf(input) {
    var box = document.getElementById(input.dataset.progress || "");
    if (!box) { return null; }
    return {
      box: box,
      bar: box.querySelector("progress"),
      say: function (text, fraction) {
        box.hidden = false;
        box.querySelector(".upload-progress-label").textContent = text;
        if (fraction === undefined) { this.bar.removeAttribute("value"); } else { this.bar.value = Math.round(fraction * 100); }
      }
    };
  }

  function onChosen(input) {
    var form = input.form;
    var file = input.files && input.files[0];
    var limit = Number(input.dataset.maxBytes || 0);
    var button = form.querySelector("button[type=submit]");
    var progress = progressOf(input);
    var maxPixels = Number(input.dataset.maxPixels || 0);
    input.setCustomValidity("");
    form.photoToSend = null;
    showPreview(input, null);
    if (!file) { return; }
    if (button) { button.disabled = true; }
    if (progress) { progress.say("Preparing the photo…"); }
    pixelSize(file).then(function (size) {
      if (size && maxPixels && size.width * size.height > maxPixels) {
        // The server refuses it too (422 image_too_large): say so before decoding it here.
        if (button) { button.disabled = false; }
        if (progress) { progress.box.hidden = true; }
        input.setCustomValidity("The photo has " + size.width + " × " + size.height
          + " pixels, more than the " + Math.round(maxPixels / 1e6)
          + " megapixels accepted; please choose a smaller photo.");
        input.reportValidity();
        return;
      }
      showPreview(input, file);
      downscaled(file, Number(input.dataset.maxSide || 0)).then(function (smaller) {
        if (button) { button.disabled = false; }
        var sent = smaller || file;
        if (limit && sent.size > limit) {
          if (progress) { progress.box.hidden = true; }
          input.setCustomValidity("The photo is larger than " + megabytes(limit) + "; please choose a smaller one.");
          input.reportValidity();
          return;
        }
        form.photoToSend = smaller ? { name: input.name, file: smaller } : null;
        if (progress) { progress.say("Ready to upload (" + megabytes(sent.size) + ").", 0); }
        if (input.hasAttribute("data-auto-upload") && button) { form.requestSubmit(button); }
      });
    });
  }

  function bind(root) {
    root.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
      if (input.dataset.bound) { return; }
      input.dataset.bound = "1";
      input.addEventListener("change", function () { onChosen(input); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:afterSwap", function (event) { bind(event.detail.target || event.target); });

  // htmx sends the form: put the downscaled photo in place of the chosen file.
  document.addEventListener("htmx:configRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.photoToSend) {
      event.detail.parameters[form.photoToSend.name] = form.photoToSend.file;
    }
  });

  // Upload progress from htmx's xhr events: the upload's own progress first; after its
  // loadend the server analyses (the bar then runs without a value).
  function progressFor(event) {
    var form = event.target.closest && event.target.closest("form");
    var input = form && form.querySelector("input[type=file][data-progress]");
    return input ? { form: form, progress: progressOf(input) } : null;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var found = progressFor(event);
    if (found && found.progress) { found.form.uploadDone = false; found.progress.say("Uploading…", 0); }
  });
  document.addEventListener("htmx:xhr:progress", function (event) {
    var found = progressFor(event);
    if (!found || !found.progress || found.form.uploadDone || !event.detail.lengthComputable) { return; }
    var fraction = event.detail.loaded / event.detail.total;
    found.progress.say("Uploading… " + Math.round(fraction * 100) + " % of " + megabytes(event.detail.total), fraction);
  });
  document.addEventListener("htmx:xhr:loadend", function (event) {
    var found = progressFor(event);
    if (!found || !found.progress || found.form.uploadDone) { return; }
    found.form.uploadDone = true;
    found.progress.say("Uploaded. Analysing… this takes a few seconds.");
  });
})();
