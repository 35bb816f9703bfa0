// Small behaviours shared by every page: live deadline countdowns, the selected row of a desk,
// and focus after an in-place update. Everything works without this file; it only helps.
(function () {
  "use strict";

  function duration(seconds, units) {
    var minutes = Math.floor(Math.abs(seconds) / 60);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    minutes = minutes % 60;
    if (days) return days + units.day + (hours ? hours + units.hour : "");
    if (hours) return hours + units.hour + (minutes ? minutes + units.minute : "");
    return minutes + units.minute;
  }

  function tick() {
    var body = document.body.dataset;
    var units = { day: body.unitDay, hour: body.unitHour, minute: body.unitMinute };
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000;
      var template = left < 0 ? body.overTemplate : body.leftTemplate;
      el.textContent = template.replace("{time}", duration(left, units));
      el.closest(".deadline").classList.toggle("is-overdue", left < 0);
    });
  }

  function selectRow(link) {
    var list = link.closest("[data-desk-list]");
    if (!list) return;
    list.querySelectorAll("[data-row]").forEach(function (row) { row.removeAttribute("aria-current"); });
    link.closest("[data-row]").setAttribute("aria-current", "true");
  }

  // Once the user changes a field that had an error, its message has done its job.
  function clearError(event) {
    var field = event.target.closest && event.target.closest(".field.has-error");
    if (!field) return;
    field.classList.remove("has-error");
    field.querySelectorAll(".error").forEach(function (message) { message.hidden = true; });
    field.querySelectorAll("[aria-invalid]").forEach(function (input) {
      input.removeAttribute("aria-invalid");
    });
  }
  document.addEventListener("input", clearError);
  document.addEventListener("change", clearError);

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-panel-link]");
    if (link) selectRow(link);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    var focus = target.querySelector && target.querySelector("[data-focus-after-swap]");
    if (target.matches("[data-focus-after-swap]")) focus = target;
    if (focus) focus.focus({ preventScroll: false });
    tick();
  });

  document.addEventListener("DOMContentLoaded", function () {
    // Filters fold away on phones; on a desk they stay open.
    if (window.matchMedia("(min-width: 48rem)").matches) {
      document.querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
    }
    tick();
    setInterval(tick, 30000);
  });
})();
