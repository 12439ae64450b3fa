// adclear review app: keyboard shortcuts and small comforts. No HTML is ever built from page text here.
(function () {
  "use strict";
  var page = document.body.dataset.page;

  // keys typed into a text field are text, not shortcuts (radio buttons and buttons are not text fields)
  var NOT_TEXT = ["radio", "checkbox", "button", "submit", "reset"];
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    if (tag === "INPUT") return NOT_TEXT.indexOf((el.type || "").toLowerCase()) < 0;
    return tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }
  function byId(id) { return document.getElementById(id); }
  function go(link) { if (link && link.getAttribute("href")) window.location.assign(link.getAttribute("href")); }

  // help overlay
  var help = byId("help");
  function toggleHelp(show) {
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
  }
  // the ☰ menu (language, help, password, logout): a drop-down on a desktop, so a click elsewhere closes it
  function toggleMenu(b, show) {
    var open = b.closest("header").classList.toggle("open", show);
    b.setAttribute("aria-expanded", open ? "true" : "false");
    return open;
  }
  document.querySelectorAll("[data-action=menu]").forEach(function (b) {
    b.addEventListener("click", function () { toggleMenu(b); });
    document.addEventListener("click", function (e) {
      if (!b.closest("header").contains(e.target)) toggleMenu(b, false);
    });
  });
  document.querySelectorAll("[data-action=help]").forEach(function (b) {
    b.addEventListener("click", function () { toggleHelp(); });
  });
  if (help) help.addEventListener("click", function (e) { if (e.target === help) toggleHelp(false); });

  // queue (and escalations): J/K move the selection, Enter opens it
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-href]"));
  var selected = -1;
  function select(i) {
    if (!rows.length) return;
    if (selected >= 0) rows[selected].classList.remove("selected");
    selected = Math.max(0, Math.min(rows.length - 1, i));
    rows[selected].classList.add("selected");
    rows[selected].scrollIntoView({ block: "nearest" });
  }
  rows.forEach(function (row, i) {
    row.addEventListener("click", function (e) {
      if (e.target.closest("a, button, input, select, textarea")) return;
      select(i);
    });
    row.addEventListener("dblclick", function () { window.location.assign(row.dataset.href); });
  });

  // ad page: panels
  var panels = { c: byId("panel-confirm"), r: byId("panel-reject"), e: byId("panel-escalate") };
  function open(panel, focus) {
    if (!panel) return false;
    Object.keys(panels).forEach(function (k) { if (panels[k] && panels[k] !== panel) panels[k].open = false; });
    panel.open = true;
    panel.scrollIntoView({ block: "nearest" });
    if (focus) focus.focus();
    return true;
  }
  function closeAll() {
    var any = false;
    Object.keys(panels).forEach(function (k) { if (panels[k] && panels[k].open) { panels[k].open = false; any = true; } });
    return any;
  }
  function chooseReason(n) {
    if (panels.c && panels.c.open) {
      // the confirmation is open: a digit picks the n-th category the hits point at
      var candidate = document.querySelector("#confirm-form input[name=category][data-n='" + n + "']");
      if (!candidate) return false;
      candidate.checked = true;
      candidate.dispatchEvent(new Event("change", { bubbles: true }));
      byId("confirm-submit").focus();
      return true;
    }
    var radio = document.querySelector("#reject-form input[name=reason][data-n='" + n + "']");
    if (!radio) return false;
    open(panels.r);
    radio.checked = true;
    byId("reject-submit").focus();
    return true;
  }

  // the legal basis follows the chosen category (from the radio's data-basis)
  var basisField = byId("legal-basis");
  document.querySelectorAll("#confirm-form input[name=category]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (radio.checked && basisField) basisField.value = radio.dataset.basis || "";
    });
  });
  // C: focus the submit button only when a category is chosen; else the first candidate
  function confirmFocus() {
    if (document.querySelector("#confirm-form input[name=category]:checked")) return byId("confirm-submit");
    return document.querySelector("#confirm-form input[name=category]");
  }

  // hovering a hit in the explanation marks it in the text
  document.querySelectorAll("tr[data-hit]").forEach(function (row) {
    function mark(on) {
      document.querySelectorAll("mark[data-hits]").forEach(function (m) {
        var mine = row.dataset.hit.split(" ");  // a line of the explanation stands for one or more hits
        if (m.dataset.hits.split(" ").some(function (n) { return mine.indexOf(n) >= 0; })) m.classList.toggle("focus", on);
      });
    }
    row.addEventListener("mouseenter", function () { mark(true); });
    row.addEventListener("mouseleave", function () { mark(false); });
  });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey && e.key === "Enter" && typing(e.target) && e.target.form) {
      e.preventDefault();
      e.target.form.requestSubmit();
      return;
    }
    if (e.key === "Escape") {
      if (help && !help.hidden) { toggleHelp(false); e.preventDefault(); return; }
      var menu = document.querySelector("header.open [data-action=menu]");
      if (menu) { toggleMenu(menu, false); menu.focus(); e.preventDefault(); return; }
      if (closeAll()) { e.preventDefault(); if (typing(document.activeElement)) document.activeElement.blur(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var key = e.key;
    if (key === "?") { toggleHelp(); e.preventDefault(); return; }
    if (help && !help.hidden) return;
    var lower = key.length === 1 ? key.toLowerCase() : key;
    if (lower === "n") {
      var claim = byId("claim-next");
      if (claim) { e.preventDefault(); claim.click(); }
      return;
    }
    if (page === "queue" || page === "escalations" || page === "takedowns") {
      if (lower === "j") { e.preventDefault(); select(selected + 1); }
      else if (lower === "k") { e.preventDefault(); select(selected - 1); }
      else if ((key === "Enter" || lower === "o") && selected >= 0) { e.preventDefault(); window.location.assign(rows[selected].dataset.href); }
      else if (page === "takedowns" && lower === "x" && selected >= 0) {
        // tick or untick the selected takedown (only requested ones have a box)
        var box = rows[selected].querySelector("input[type=checkbox]");
        if (box) { e.preventDefault(); box.checked = !box.checked; }
      }
      else if (page === "takedowns" && lower === "b") {
        var make = byId("batch-submit");
        if (make) { e.preventDefault(); make.click(); }
      }
      return;
    }
    if (page !== "ad") return;
    if (lower === "f") {
      // the first feedback form of the ad's takedowns
      var fb = document.querySelector(".takedown details.panel");
      if (fb) { e.preventDefault(); fb.open = true; fb.scrollIntoView({ block: "nearest" }); fb.querySelector("input[name=result]").focus(); }
      return;
    }
    if (lower === "j") { e.preventDefault(); go(byId("next-link")); }
    else if (lower === "k") { e.preventDefault(); go(byId("prev-link")); }
    else if (lower === "c") { if (open(panels.c, confirmFocus())) e.preventDefault(); }
    else if (lower === "r") { if (open(panels.r, document.querySelector("#reject-form input[name=reason]:checked") || document.querySelector("#reject-form input[name=reason]"))) e.preventDefault(); }
    else if (lower === "e") { if (open(panels.e, byId("escalate-note"))) e.preventDefault(); }
    else if (/^[1-9]$/.test(key)) { if (chooseReason(key)) e.preventDefault(); }
  });
})();
