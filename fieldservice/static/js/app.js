/* fieldservice: small enhancements on top of htmx. No inline scripts (CSP), no eval.
 * - Drafts: forms with data-draft keep what was typed in localStorage until the server
 *   accepted them, so a dropped connection or a reload loses nothing.
 * - Network and server errors of htmx requests show a message instead of failing silently.
 */
(function () {
  "use strict";
  var PREFIX = "fs-draft:";
  var body = document.body;

  function say(text, kind) {
    var box = document.getElementById("messages");
    if (!box || !text) return;
    var p = document.createElement("p");
    p.className = "flash flash-" + (kind || "error");
    p.textContent = text;
    box.innerHTML = "";
    box.appendChild(p);
  }

  function draftKey(form) { return PREFIX + form.getAttribute("data-draft"); }

  // Only what the user typed or chose: not buttons, hidden fields, files or secrets.
  function draftable(el) {
    var tag = el.tagName;
    if (!el.name || el.name === "csrf_token") return false;
    if (tag === "SELECT" || tag === "TEXTAREA") return true;
    return tag === "INPUT" && ["hidden", "password", "file", "submit", "button", "reset", "image"].indexOf(el.type) < 0;
  }

  function saveDraft(form) {
    var data = { _t: Date.now() };
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!draftable(el)) return;
      if (el.type === "radio") data[el.name + "=" + el.value] = el.checked;
      else data[el.name] = el.type === "checkbox" ? el.checked : el.value;
    });
    try { localStorage.setItem(draftKey(form), JSON.stringify(data)); } catch (e) { /* storage full or off */ }
  }

  function restoreDraft(form) {
    var raw;
    try { raw = localStorage.getItem(draftKey(form)); } catch (e) { return; }
    if (!raw) return;
    var data = JSON.parse(raw), restored = false;
    // Typed on this phone after the server last saved (e.g. offline): the phone's copy wins.
    var newer = (data._t || 0) > Number(form.getAttribute("data-draft-saved") || 0);
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!draftable(el)) return;
      if (el.type === "radio") {
        var want = data[el.name + "=" + el.value];
        if (newer && want !== undefined && el.checked !== want) { el.checked = want; restored = true; }
      } else if (!(el.name in data)) {
        return;
      } else if (el.type === "checkbox") {
        if (newer && el.checked !== data[el.name]) { el.checked = data[el.name]; restored = true; }
      } else if ((newer || !el.value) && data[el.name] && el.value !== data[el.name]) {
        el.value = data[el.name]; restored = true;
      }
    });
    if (restored) {
      say(body.getAttribute("data-msg-draft-restored"), "info");
      // Let the page's own autosave (if any) send the restored entries to the server.
      form.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  function clearDraft(form) { try { localStorage.removeItem(draftKey(form)); } catch (e) { /* ignore */ } }

  function initDrafts(root) {
    var forms = (root.matches && root.matches("form[data-draft]")) ? [root] : [];
    forms = forms.concat(Array.prototype.slice.call(root.querySelectorAll ? root.querySelectorAll("form[data-draft]") : []));
    forms.forEach(function (form) {
      if (form.__draftReady) return;
      form.__draftReady = true;
      restoreDraft(form);
      form.addEventListener("input", function () { saveDraft(form); });
      form.addEventListener("change", function () { saveDraft(form); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { initDrafts(document); });
  document.addEventListener("htmx:load", function (evt) { initDrafts(evt.target); });

  document.addEventListener("htmx:beforeRequest", function (evt) {
    var form = evt.detail.elt && evt.detail.elt.closest ? evt.detail.elt.closest("form[data-draft]") : null;
    if (form) saveDraft(form);
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var xhr = evt.detail.xhr;
    // (htmx leaves `successful` unset on an HX-Redirect answer: look at the status itself.)
    if (!xhr || xhr.status < 200 || xhr.status >= 300) return;
    // The server says it has the record for good (FS-Draft: done): drop the phone's copy.
    if (xhr.getResponseHeader("FS-Draft") === "done") {
      var elt = evt.detail.elt;
      var form = elt && elt.closest ? elt.closest("form[data-draft]") : null;
      var included = elt && elt.getAttribute ? elt.getAttribute("hx-include") : null;
      if (!form && included) form = document.querySelector(included);
      if (form) clearDraft(form);
    }
  });
  // A successful swap makes earlier messages stale.
  document.addEventListener("htmx:afterSwap", function (evt) {
    var box = document.getElementById("messages");
    var target = evt.detail.target;
    // Background refreshes in the header (the claims badge) are not the user's doing.
    if (target && target.closest && target.closest(".topbar")) return;
    if (box && evt.detail.successful !== false && target !== box) box.innerHTML = "";
  });
  document.addEventListener("htmx:sendError", function (evt) {
    say(body.getAttribute("data-msg-offline"));
    // An autosave that could not leave the phone: the status line must not still say "saved".
    var form = evt.detail.elt && evt.detail.elt.closest ? evt.detail.elt.closest("form[data-draft]") : null;
    var status = form ? document.getElementById("draft-status") : null;
    if (status) { status.textContent = body.getAttribute("data-msg-unsaved"); status.classList.add("error"); }
  });
  document.addEventListener("htmx:timeout", function () { say(body.getAttribute("data-msg-offline")); });
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr, type = xhr.getResponseHeader("Content-Type") || "";
    say(type.indexOf("text/plain") === 0 && xhr.responseText ? xhr.responseText : body.getAttribute("data-msg-error"));
  });
  // A full-page (no htmx) submit of a draft form: keep the draft until the next page shows
  // the form is gone (a successful redirect leaves no such form on the page).
  window.addEventListener("pageshow", function () {
    Object.keys(localStorage).forEach(function (key) {
      if (key.indexOf(PREFIX) !== 0) return;
      var name = key.slice(PREFIX.length);
      if (document.querySelector('form[data-draft="' + name + '"]')) return;
      if (sessionStorage.getItem("fs-submitted:" + name)) { localStorage.removeItem(key); sessionStorage.removeItem("fs-submitted:" + name); }
    });
  });
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.matches && form.matches("form[data-draft]") && !form.hasAttribute("hx-post")) {
      sessionStorage.setItem("fs-submitted:" + form.getAttribute("data-draft"), "1");
    }
  });
})();
