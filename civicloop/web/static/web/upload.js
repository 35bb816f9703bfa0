// Photo inputs and the category picker of the report forms.
//
// Photos are downscaled in the browser (canvas, longest side 1600 px, JPEG) as soon as they are
// picked, and the input's file list is replaced with the small copies, so that a plain form
// post and an htmx post both send small files. The original's EXIF block (capture time and GPS:
// evidence) is copied into the small JPEG with its orientation reset, since the canvas has
// already applied it. Photos the browser cannot decode (HEIC on Android) are sent unchanged;
// the server reads them. Upload progress comes from htmx's xhr progress events.
(function () {
  "use strict";

  var MAX_SIDE = 1600;
  var QUALITY = 0.85;
  var KEEP_BELOW = 350 * 1024; // small enough already: keep the original bytes

  // ------------------------------------------------------------ EXIF (JPEG APP1) copy

  function exifSegment(bytes) {
    if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
    var offset = 2;
    while (offset + 4 < bytes.length && bytes[offset] === 0xff) {
      var marker = bytes[offset + 1];
      var length = (bytes[offset + 2] << 8) | bytes[offset + 3];
      if (marker === 0xda) return null; // start of scan: no EXIF before the image data
      var isExif =
        marker === 0xe1 &&
        bytes[offset + 4] === 0x45 && bytes[offset + 5] === 0x78 &&
        bytes[offset + 6] === 0x69 && bytes[offset + 7] === 0x66;
      if (isExif) return bytes.slice(offset, offset + 2 + length);
      offset += 2 + length;
    }
    return null;
  }

  function resetOrientation(segment) {
    var tiff = 10; // FF E1 len(2) "Exif\0\0"
    var little = segment[tiff] === 0x49;
    var view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
    var ifd = tiff + view.getUint32(tiff + 4, little);
    if (ifd + 2 > segment.length) return segment;
    var count = view.getUint16(ifd, little);
    for (var i = 0; i < count; i++) {
      var entry = ifd + 2 + i * 12;
      if (entry + 12 > segment.length) break;
      if (view.getUint16(entry, little) === 0x0112) view.setUint16(entry + 8, 1, little);
    }
    return segment;
  }

  function withExif(jpeg, segment) {
    var out = new Uint8Array(jpeg.length + segment.length);
    out.set(jpeg.subarray(0, 2), 0);
    out.set(segment, 2);
    out.set(jpeg.subarray(2), 2 + segment.length);
    return out;
  }

  // ------------------------------------------------------------ downscaling

  function decode(file) {
    if (window.createImageBitmap) {
      return createImageBitmap(file, { imageOrientation: "from-image" });
    }
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = reject;
      img.src = URL.createObjectURL(file);
    });
  }

  function toBlob(canvas) {
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", QUALITY); });
  }

  function jpegName(name) {
    return (name.replace(/\.[^.]*$/, "") || "photo") + ".jpg";
  }

  async function shrink(file) {
    var image;
    try {
      image = await decode(file);
    } catch (e) {
      return file; // e.g. HEIC in Chrome: the server decodes it
    }
    var width = image.width, height = image.height;
    var scale = Math.min(1, MAX_SIDE / Math.max(width, height));
    if (scale === 1 && file.size <= KEEP_BELOW) return file;
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
    var blob = await toBlob(canvas);
    // A copy at the same size is only worth it when it is smaller.
    if (!blob || (scale === 1 && blob.size >= file.size)) return file;
    var bytes = new Uint8Array(await blob.arrayBuffer());
    var exif = exifSegment(new Uint8Array(await file.slice(0, 256 * 1024).arrayBuffer()));
    if (exif) bytes = withExif(bytes, resetOrientation(exif));
    return new File([bytes], jpegName(file.name), { type: "image/jpeg", lastModified: file.lastModified });
  }

  // ------------------------------------------------------------ photo inputs

  function setFiles(input, files) {
    var transfer = new DataTransfer();
    files.forEach(function (f) { transfer.items.add(f); });
    input.files = transfer.files;
  }

  function renderThumbs(input, form) {
    var list = input.parentElement.querySelector("[data-thumbs]");
    if (!list) return;
    list.textContent = "";
    input._photos.forEach(function (file, index) {
      var item = document.createElement("li");
      var img = document.createElement("img");
      img.src = URL.createObjectURL(file);
      img.alt = file.name;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "thumb-remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", (form.dataset.textRemove || "") + " " + (index + 1));
      remove.addEventListener("click", function () {
        input._photos.splice(index, 1);
        setFiles(input, input._photos);
        renderThumbs(input, input.form);
      });
      item.append(img, remove);
      list.append(item);
    });
  }

  function onPick(input) {
    var form = input.form;
    var picked = Array.prototype.filter.call(input.files, function (f) {
      return input._photos.indexOf(f) === -1;
    });
    if (!picked.length) return;
    status(form, form.dataset.textCompressing, null);
    var work = Promise.all(picked.map(shrink)).then(function (small) {
      input._photos = input._photos.concat(small);
      setFiles(input, input._photos);
      renderThumbs(input, form);
      status(form, null, null);
    });
    form._pending = (form._pending || Promise.resolve()).then(function () { return work; });
  }

  function initPhotos(input) {
    if (input._photos) return;
    input._photos = Array.prototype.slice.call(input.files || []);
    if (input._photos.length) renderThumbs(input, input.form);
    input.addEventListener("change", function () { onPick(input); });
  }

  // ------------------------------------------------------------ progress and errors

  function status(form, text, percent) {
    var box = form.querySelector("[data-upload-progress]");
    if (!box) return;
    box.hidden = !text;
    box.querySelector("[data-upload-text]").textContent = text || "";
    var bar = box.querySelector("progress");
    if (percent === null) bar.removeAttribute("value");
    else bar.value = percent;
  }

  function showError(form, text) {
    var error = form.querySelector("[data-upload-error]");
    if (!error) return;
    error.textContent = text || "";
    error.hidden = !text;
  }

  function busy(form, on) {
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = on; });
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  function hasPhotos(form) {
    return !!form.querySelector("input[data-photos]");
  }

  document.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !form._pending) return;
    event.preventDefault();
    form._pending.then(function () { event.detail.issueRequest(); });
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !hasPhotos(form)) return;
    showError(form, null);
    busy(form, true);
    status(form, form.dataset.textUploading, 0);
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !hasPhotos(form) || !event.detail.total) return;
    var percent = Math.round((100 * event.detail.loaded) / event.detail.total);
    var text = percent < 100
      ? form.dataset.textUploading + " " + percent + "%"
      : form.dataset.textSaving;
    status(form, text, percent);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !hasPhotos(form)) return;
    busy(form, false);
    status(form, null, null);
    if (event.detail.failed && !event.detail.xhr.status) {
      showError(form, document.body.dataset.networkError);
    }
  });

  document.addEventListener("htmx:timeout", function (event) {
    var form = event.detail.elt;
    if (form instanceof HTMLFormElement) showError(form, form.dataset.textTimeout);
  });

  // ------------------------------------------------------------ category picker

  function initPicker(picker) {
    if (picker._ready) return;
    picker._ready = true;
    var search = picker.querySelector("[data-category-search]");
    var empty = picker.querySelector("[data-category-empty]");
    var chosen = picker.querySelector("[data-category-chosen]");
    var form = picker.closest("form");
    function filter() {
      var q = search.value.trim().toLowerCase().replace(/\s+/g, "");
      var shown = 0;
      picker.querySelectorAll("[data-category-group]").forEach(function (group) {
        var any = false;
        group.querySelectorAll(".category-option").forEach(function (option) {
          var hit = !q || option.dataset.search.toLowerCase().replace(/\s+/g, "").indexOf(q) !== -1;
          option.hidden = !hit;
          any = any || hit;
          if (hit) shown++;
        });
        group.hidden = !any;
      });
      empty.hidden = shown > 0;
    }
    function describe() {
      var checked = picker.querySelector("input[type=radio]:checked");
      chosen.textContent = checked
        ? (form ? form.dataset.textChosen : "") + checked.parentElement.textContent.trim()
        : "";
    }
    search.addEventListener("input", filter);
    search.addEventListener("keydown", function (e) { if (e.key === "Enter") e.preventDefault(); });
    picker.addEventListener("change", describe);
    filter();
    describe();
  }

  function init(root) {
    root.querySelectorAll("input[data-photos]").forEach(initPhotos);
    root.querySelectorAll("[data-category-picker]").forEach(initPicker);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
})();
