// Idle lock for shared computers. Loaded as a file (CSP: no inline JS); only on pages of a
// logged-in user (the <body> carries data-idle-minutes).
//
// After PORTAL_IDLE_MINUTES without a key, pointer, or touch in any tab of the portal,
// the page hides the patient data at once, ends the session on the server, sends every form
// the user had started (answer, review) so that the server keeps it as a draft, and goes to the
// login page, which asks for the password and comes back here. PORTAL_IDLE_WARNING_SECONDS
// before, a banner warns. Activity without requests (reading, typing) is reported to the
// server at most every 30 seconds, so that its own idle limit (the same, plus a minute at most
// for that pace) never ends a session in use. Without JavaScript the server's limit applies.
(function () {
  "use strict";

  var body = document.body;
  if (!body || !body.dataset.idleMinutes) { return; }

  var idleMs = Number(body.dataset.idleMinutes) * 60000;
  var warnMs = Math.min(Number(body.dataset.idleWarning || 60) * 1000, idleMs / 2);
  // The server's touch interval (app/services/sessions/portal.py): it ends a session after
  // the idle time plus twice this, so the page always locks first.
  var pingMs = Math.min(30000, idleMs / 4);
  var STORAGE_KEY = "dermadetect-last-activity";  // shared by the tabs of this browser
  var lastActivity = Date.now();
  var lastPing = Date.now();
  var locking = false;

  function csrfHeaders() {
    try {
      return JSON.parse(body.getAttribute("hx-headers") || "{}");
    } catch (error) {
      return {};
    }
  }

  function post(url, data, extraHeaders) {
    var headers = Object.assign(csrfHeaders(), extraHeaders || {});
    return fetch(url, {
      method: "POST", body: data, headers: headers, credentials: "same-origin", redirect: "manual"
    }).catch(function () { return null; });
  }

  // --- activity ---------------------------------------------------------------------------------
  function sharedActivity() {
    var stored = 0;
    try { stored = Number(window.localStorage.getItem(STORAGE_KEY) || 0); } catch (error) { stored = 0; }
    return Math.max(lastActivity, stored);
  }

  function active() {
    if (locking) { return; }
    var now = Date.now();
    if (now - lastActivity < 1000) { return; }
    lastActivity = now;
    try { window.localStorage.setItem(STORAGE_KEY, String(now)); } catch (error) { /* private mode */ }
    hideWarning();
    if (now - lastPing >= pingMs) {
      lastPing = now;
      post(body.dataset.pingUrl).then(function (response) {
        if (response && response.status === 401) { lock(); }  // ended elsewhere (logout everywhere)
      });
    }
  }

  // Not "scroll": the page scrolls by itself too (the warning appearing, scroll anchoring).
  ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "input"].forEach(
    function (name) { document.addEventListener(name, active, { passive: true, capture: true }); }
  );
  document.addEventListener("htmx:beforeRequest", function () { lastPing = Date.now(); active(); });

  // --- the warning ------------------------------------------------------------------------------
  var warning = document.getElementById("idle-warning");
  var countdown = warning && warning.querySelector("[data-idle-countdown]");

  // A modal dialog (the full-size photo viewer) sits in the top layer, above the warning and
  // outside #main: close it, so that the warning is seen and the lock hides every photo.
  function closeDialogs() {
    document.querySelectorAll("dialog[open]").forEach(function (dialog) { dialog.close(); });
  }

  function showWarning(remainingMs) {
    if (!warning) { return; }
    closeDialogs();
    if (countdown) { countdown.textContent = String(Math.max(0, Math.ceil(remainingMs / 1000))); }
    warning.hidden = false;
  }

  function hideWarning() { if (warning) { warning.hidden = true; } }

  var stay = warning && warning.querySelector("[data-idle-stay]");
  if (stay) { stay.addEventListener("click", function () { lastActivity = 0; active(); }); }

  // --- the lock ---------------------------------------------------------------------------------
  function startedForms() {
    return Array.prototype.filter.call(document.querySelectorAll("form[data-draft]"), function (form) {
      return serialise(form) !== form.dataset.initialState;
    });
  }

  function serialise(form) {
    var data = new FormData(form);
    data.delete("csrf_token");
    return new URLSearchParams(data).toString();
  }

  // What each form held when it arrived; a form that differs at the lock was started. A form
  // sent back with errors (422) or filled in from a draft holds what the user typed: it counts
  // as started as it is.
  function remember(root, started) {
    (root.matches && root.matches("form[data-draft]") ? [root] : []).concat(
      Array.prototype.slice.call(root.querySelectorAll("form[data-draft]"))
    ).forEach(function (form) {
      // data-draft="restored": filled in from a draft, which the server has handed back.
      var kept = started || form.dataset.draft === "restored";
      form.dataset.initialState = kept ? "" : serialise(form);
    });
  }

  function lock() {
    if (locking) { return; }
    locking = true;
    hideWarning();
    var started = startedForms().map(function (form) {
      return { action: form.action, data: new FormData(form) };
    });
    // Blank the patient data at once; the requests below may take a moment.
    closeDialogs();
    var main = document.getElementById("main");
    var panel = document.getElementById("idle-locked");
    if (main) { main.hidden = true; }
    if (panel) { panel.hidden = false; }
    post(body.dataset.lockUrl).then(function () {
      // After the lock: the server keeps these posts as drafts instead of saving them.
      return Promise.all(started.map(function (form) {
        return post(form.action, form.data, { "HX-Request": "true" });
      }));
    }).then(function () {
      if (main) { main.replaceChildren(); }
      var here = window.location.pathname + window.location.search;
      window.location.replace(body.dataset.loginUrl + "?next=" + encodeURIComponent(here));
    });
  }

  function check() {
    if (locking) { return; }
    var idle = Date.now() - sharedActivity();
    if (idle >= idleMs) {
      lock();
    } else if (idle >= idleMs - warnMs) {
      showWarning(idleMs - idle);
    } else {
      hideWarning();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    remember(document, document.querySelector(".form-error, .field-error") !== null);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 200;
    remember(event.detail.target || event.target, status === 422);
  });
  document.addEventListener("visibilitychange", check);
  window.setInterval(check, 1000);
})();
