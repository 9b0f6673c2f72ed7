/* Signature pad for the on-site person in charge: draw with a finger, save as PNG.
 * Progressive enhancement of [data-signature-pad]; no inline scripts (CSP). */
(function () {
  "use strict";

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function setup(pad) {
    if (pad.__ready) return;
    pad.__ready = true;
    var canvas = pad.querySelector("canvas");
    var ctx = canvas.getContext("2d");
    var status = pad.querySelector("[data-signature-status]");
    var drawing = false, drawn = false, last = null;
    ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";

    function point(evt) {
      var r = canvas.getBoundingClientRect();
      return { x: (evt.clientX - r.left) * canvas.width / r.width, y: (evt.clientY - r.top) * canvas.height / r.height };
    }
    canvas.addEventListener("pointerdown", function (evt) {
      drawing = true; last = point(evt); canvas.setPointerCapture(evt.pointerId); evt.preventDefault();
    });
    canvas.addEventListener("pointermove", function (evt) {
      if (!drawing) return;
      var p = point(evt);
      ctx.beginPath(); ctx.moveTo(last.x, last.y); ctx.lineTo(p.x, p.y); ctx.stroke();
      last = p; drawn = true; evt.preventDefault();
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
      canvas.addEventListener(name, function () { drawing = false; });
    });
    pad.querySelector("[data-signature-clear]").addEventListener("click", function () {
      ctx.clearRect(0, 0, canvas.width, canvas.height); drawn = false; status.textContent = "";
    });
    pad.querySelector("[data-signature-save]").addEventListener("click", function () {
      if (!drawn) return;
      var button = this;
      button.disabled = true;
      canvas.toBlob(function (blob) {
        var data = new FormData();
        data.append("signature", blob, "signature.png");
        var xhr = new XMLHttpRequest();
        xhr.open("POST", pad.getAttribute("data-upload"));
        xhr.setRequestHeader("X-CSRFToken", csrfToken());
        xhr.setRequestHeader("HX-Request", "true");
        xhr.onload = function () {
          button.disabled = false;
          if (xhr.status === 200) {
            var block = document.getElementById("signature-block");
            block.outerHTML = xhr.responseText;
            var fresh = document.getElementById("signature-block");
            if (window.htmx) window.htmx.process(fresh);
            var newPad = fresh.querySelector("[data-signature-pad]");
            if (newPad) { setup(newPad); newPad.querySelector("[data-signature-status]").textContent = pad.getAttribute("data-msg-saved"); }
          } else {
            status.textContent = xhr.status === 422 || xhr.status === 409 ? xhr.responseText : pad.getAttribute("data-msg-failed");
          }
        };
        xhr.onerror = function () { button.disabled = false; status.textContent = pad.getAttribute("data-msg-failed"); };
        xhr.send(data);
      }, "image/png");
    });
  }

  function scan(root) {
    (root.querySelectorAll ? root.querySelectorAll("[data-signature-pad]") : []).forEach(setup);
  }
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (evt) { scan(evt.target.parentNode || document); });
})();
