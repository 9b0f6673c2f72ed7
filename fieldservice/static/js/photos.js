/* fieldservice photos: progressive enhancement of templates/photos/_uploader.html.
 * No inline scripts (CSP), no eval, plain ES2017.
 *
 * Without this file the uploader is a plain multipart form that sends the originals.
 * With it, each chosen photo is:
 *  - scaled in the browser to at most 2048 px on the long side (JPEG 0.85), so a 4-8 MB
 *    camera photo sends a few hundred KB; if the browser cannot decode it (HEIC on most
 *    desktops) the original is sent and the server makes the copies;
 *  - sent on its own request (XMLHttpRequest, for upload progress) with a client_key, so a
 *    retry of an upload that had in fact arrived is not stored twice;
 *  - shown as a row with a progress bar; on 201 the server's tile joins the gallery; on 202
 *    (the photo store is down, the server kept the photo and sends it later) its "saved,
 *    waiting for the store" tile joins the gallery the same way: done, nothing to retry; on a
 *    network error or 503 the row says "not uploaded — retry" and keeps the blob; on 422/413
 *    it shows the server's message.
 * Pending photos are kept in memory and in IndexedDB, so a reload keeps them (retry by hand).
 * Nothing outside the uploader's own form is read or changed.
 */
(function () {
  "use strict";

  var MAX_SIDE = 2048;
  var QUALITY = 0.85;
  var DB_NAME = "fs-photos";
  var STORE = "pending";

  function csrfToken() {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      return headers["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function newClientKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // --- scaling in the browser -----------------------------------------------------------

  function canvasToBlob(canvas) {
    return new Promise(function (resolve) {
      if (canvas.convertToBlob) {
        canvas.convertToBlob({ type: "image/jpeg", quality: QUALITY }).then(resolve, function () { resolve(null); });
      } else {
        canvas.toBlob(resolve, "image/jpeg", QUALITY);
      }
    });
  }

  async function scaled(file) {
    if (typeof window.createImageBitmap !== "function") return file;
    var bitmap;
    try {
      bitmap = await window.createImageBitmap(file, { imageOrientation: "from-image" });
    } catch (e) {
      return file; // not decodable here (e.g. HEIC): the server decodes it
    }
    try {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      var w = Math.max(1, Math.round(bitmap.width * scale));
      var h = Math.max(1, Math.round(bitmap.height * scale));
      var canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      var ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff"; // transparent PNGs become white, as on the server
      ctx.fillRect(0, 0, w, h);
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = "high";
      ctx.drawImage(bitmap, 0, 0, w, h);
      var blob = await canvasToBlob(canvas);
      canvas.width = canvas.height = 0; // free the pixels now (mobile Safari keeps them)
      if (!blob) return file;
      // Small photos that were already compact: keep the original (with its capture time).
      if (scale === 1 && blob.size >= file.size) return file;
      return blob;
    } finally {
      if (bitmap.close) bitmap.close();
    }
  }

  // The camera's capture time (EXIF DateTimeOriginal, with OffsetTimeOriginal when present),
  // read from the original JPEG before scaling drops its metadata: "YYYY-MM-DDTHH:MM:SS[+hh:mm]".
  async function captureTime(file) {
    try {
      var view = new DataView(await file.slice(0, 131072).arrayBuffer());
      if (view.getUint16(0) !== 0xFFD8) return "";
      var pos = 2;
      while (pos + 4 < view.byteLength) {
        var marker = view.getUint16(pos), size = view.getUint16(pos + 2);
        if (marker === 0xFFE1 && view.getUint32(pos + 4) === 0x45786966) return readExif(view, pos + 10);
        if ((marker & 0xFF00) !== 0xFF00) return "";
        pos += 2 + size;
      }
    } catch (e) { /* unreadable: the server reads what it can */ }
    return "";
  }

  function readExif(view, tiff) {
    var little = view.getUint16(tiff) === 0x4949;
    function u16(at) { return view.getUint16(at, little); }
    function u32(at) { return view.getUint32(at, little); }
    function ascii(entry) {
      var count = u32(entry + 4), at = count > 4 ? tiff + u32(entry + 8) : entry + 8, out = "";
      for (var i = 0; i < count - 1 && at + i < view.byteLength; i++) out += String.fromCharCode(view.getUint8(at + i));
      return out;
    }
    function tags(ifd) {
      var found = {}, n = u16(ifd);
      for (var i = 0; i < n; i++) { var entry = ifd + 2 + i * 12; found[u16(entry)] = entry; }
      return found;
    }
    var ifd0 = tags(tiff + u32(tiff + 4));
    if (!ifd0[0x8769]) return "";
    var exif = tags(tiff + u32(ifd0[0x8769] + 8));
    if (!exif[0x9003]) return "";
    var m = /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})/.exec(ascii(exif[0x9003]));
    if (!m) return "";
    var offset = exif[0x9011] ? ascii(exif[0x9011]) : "";
    return m[1] + "-" + m[2] + "-" + m[3] + "T" + m[4] + ":" + m[5] + ":" + m[6] +
      (/^[+-]\d{2}:\d{2}$/.test(offset) ? offset : "");
  }

  // --- IndexedDB: pending photos survive a reload ---------------------------------------

  var dbPromise = null;

  function openDb() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise(function (resolve) {
      if (!window.indexedDB) { resolve(null); return; }
      var req;
      try { req = window.indexedDB.open(DB_NAME, 1); } catch (e) { resolve(null); return; }
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "clientKey" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { resolve(null); };
      req.onblocked = function () { resolve(null); };
    });
    return dbPromise;
  }

  function dbDo(mode, work) {
    return openDb().then(function (db) {
      if (!db) return null;
      return new Promise(function (resolve) {
        var result = null;
        try {
          var tx = db.transaction(STORE, mode);
          var req = work(tx.objectStore(STORE));
          if (req) req.onsuccess = function () { result = req.result; };
          tx.oncomplete = function () { resolve(result); };
          tx.onerror = tx.onabort = function () { resolve(null); };
        } catch (e) {
          resolve(null);
        }
      });
    });
  }

  function remember(item) {
    return dbDo("readwrite", function (store) {
      return store.put({ clientKey: item.clientKey, action: item.action, blob: item.blob, name: item.name,
                         caption: item.caption, fields: item.fields, savedAt: Date.now() });
    });
  }

  function forget(item) { return dbDo("readwrite", function (store) { return store.delete(item.clientKey); }); }

  function remembered() { return dbDo("readonly", function (store) { return store.getAll(); }); }

  // --- one pending photo ----------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function Uploader(form) {
    this.form = form;
    this.list = form.querySelector(".photo-pending");
    this.input = form.querySelector('input[type="file"][name="photo"]');
    this.gallery = document.getElementById(form.getAttribute("data-gallery"));
    this.msg = function (name) { return form.getAttribute("data-msg-" + name) || ""; };
  }

  Uploader.prototype.extraFields = function () {
    var fields = {};
    ["diagnosis_id", "part_id"].forEach(function (name) {
      var field = this.form.elements[name];
      if (field && field.value) fields[name] = field.value;
    }, this);
    return fields;
  };

  Uploader.prototype.addRow = function (item) {
    var row = el("li", "photo-row");
    var label = el("span", "photo-row-name", item.caption || item.name || "");
    var bar = el("progress", "photo-progress");
    bar.max = 100;
    bar.value = 0;
    var state = el("span", "photo-row-state", this.msg("scaling"));
    var retry = el("button", "button photo-retry", this.msg("retry"));
    retry.type = "button";
    retry.hidden = true;
    var remove = el("button", "link photo-remove", this.msg("remove"));
    remove.type = "button";
    remove.hidden = true;
    bar.setAttribute("aria-label", item.name || this.msg("uploading"));
    row.appendChild(label);
    row.appendChild(bar);
    row.appendChild(state);
    row.appendChild(retry);
    row.appendChild(remove);
    this.list.appendChild(row);
    var self = this;
    retry.addEventListener("click", function () { self.send(item); });
    remove.addEventListener("click", function () { forget(item); row.remove(); });
    item.row = { li: row, bar: bar, state: state, retry: retry, remove: remove };
  };

  Uploader.prototype.show = function (item, text, failed, canRetry) {
    var r = item.row;
    r.state.textContent = text;
    r.li.classList.toggle("photo-row-failed", !!failed);
    r.retry.hidden = !canRetry;
    r.remove.hidden = !failed;
    r.bar.hidden = !!failed;
  };

  Uploader.prototype.send = function (item) {
    var self = this;
    var data = new FormData();
    data.append("photo", item.blob, item.name || "photo.jpg");
    data.append("caption", item.caption || "");
    data.append("client_key", item.clientKey);
    Object.keys(item.fields || {}).forEach(function (name) { data.append(name, item.fields[name]); });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", item.action);
    xhr.setRequestHeader("HX-Request", "true");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.upload.onprogress = function (evt) {
      if (evt.lengthComputable) item.row.bar.value = Math.round(100 * evt.loaded / evt.total);
    };
    xhr.onload = function () {
      var type = xhr.getResponseHeader("Content-Type") || "";
      var text = type.indexOf("text/plain") === 0 ? xhr.responseText : "";
      // 202: kept on the server while the photo store is down; the server's queue sends it
      // (a retry from here would only find the same photo by its client_key).
      if (xhr.status === 201 || xhr.status === 202 || xhr.status === 200) {
        self.done(item, xhr.responseText);
        // Like htmx's HX-Trigger: other widgets on the page (a claim's evidence list) listen for it.
        var trigger = xhr.getResponseHeader("HX-Trigger");
        if (trigger) document.body.dispatchEvent(new CustomEvent(trigger, { bubbles: true }));
      } else if (xhr.status === 422 || xhr.status === 413) {
        self.show(item, text || self.msg("failed"), true, false);
        forget(item);
      } else if (xhr.status === 401) {
        self.show(item, self.msg("signin"), true, true);
      } else {
        // 503 (store down), 5xx, a stale CSRF token (400): keep the blob and offer a retry.
        self.show(item, self.msg("failed") + (text && xhr.status !== 503 ? " — " + text : ""), true, true);
      }
    };
    xhr.onerror = xhr.ontimeout = function () { self.show(item, self.msg("failed"), true, true); };
    this.show(item, this.msg("uploading"), false, false);
    item.row.bar.value = 0;
    xhr.send(data);
  };

  Uploader.prototype.done = function (item, html) {
    item.row.li.remove();
    forget(item);
    if (!this.gallery) return;
    var template = document.createElement("template");
    template.innerHTML = html;
    var nodes = Array.prototype.slice.call(template.content.children);
    this.gallery.appendChild(template.content);
    if (window.htmx) nodes.forEach(function (node) { window.htmx.process(node); });
  };

  Uploader.prototype.take = function (files) {
    var self = this;
    var caption = (this.form.elements.caption && this.form.elements.caption.value) || "";
    var fields = this.extraFields();
    Array.prototype.forEach.call(files, function (file) {
      var item = { clientKey: newClientKey(), action: self.form.action, name: file.name, caption: caption,
                   fields: fields, blob: null };
      self.addRow(item);
      captureTime(file).then(function (taken) {
        if (taken) item.fields = Object.assign({}, item.fields, { captured_at: taken });
        return scaled(file);
      }).catch(function () { return file; }).then(function (blob) {
        item.blob = blob;
        if (blob !== file) item.name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
        remember(item);
        self.send(item);
      });
    });
    // The files are on their way: the plain submit must not send them a second time.
    this.input.value = "";
  };

  Uploader.prototype.restore = function () {
    var self = this;
    remembered().then(function (items) {
      var mine = (items || []).filter(function (item) { return item.action === self.form.action; });
      mine.forEach(function (item) {
        self.addRow(item);
        self.show(item, self.msg("failed"), true, true);
      });
      if (mine.length) {
        var box = document.getElementById("messages");
        if (box) {
          var p = el("p", "flash flash-info", self.msg("restored"));
          box.appendChild(p);
        }
      }
    });
  };

  function init(root) {
    var forms = root.querySelectorAll ? root.querySelectorAll("form[data-photo-uploader]") : [];
    Array.prototype.forEach.call(forms, function (form) {
      if (form.__photoUploader) return;
      var uploader = new Uploader(form);
      form.__photoUploader = uploader;
      if (!uploader.input || !uploader.list) return;
      form.classList.add("photo-form-enhanced");
      uploader.input.addEventListener("change", function () {
        if (uploader.input.files && uploader.input.files.length) uploader.take(uploader.input.files);
      });
      form.addEventListener("submit", function (evt) {
        evt.preventDefault();
        if (uploader.input.files && uploader.input.files.length) uploader.take(uploader.input.files);
      });
      uploader.restore();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
  document.addEventListener("htmx:load", function (evt) { init(evt.target); });
})();
