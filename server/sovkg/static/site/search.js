// The search box of every page: suggestions as you type, from this server's
// /reconcile/suggest/entity (the Reconciliation API's suggest service). Same origin only, no
// inline script or style (the pages' Content-Security-Policy allows script from 'self'); without
// script the box is a plain form that opens /search.
(function () {
  "use strict";
  var form = document.querySelector("form.search[data-suggest]");
  if (!form) return;
  var input = form.querySelector("input[type=search]");
  var list = form.querySelector("ul.suggestions");
  var endpoint = form.getAttribute("data-suggest");
  var view = form.getAttribute("data-view");
  var lang = form.getAttribute("data-lang") || "en";
  var timer = null;
  var asked = 0;
  var selected = -1;

  function pageOf(id) {
    // identifiers are paths under /id/ ("organization/kaist"): encode each segment
    return view + id.split("/").map(encodeURIComponent).join("/");
  }

  function close() {
    list.hidden = true;
    list.textContent = "";
    selected = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function select(n) {
    var items = list.querySelectorAll("li");
    if (!items.length) return;
    selected = (n + items.length) % items.length;
    for (var i = 0; i < items.length; i++) {
      items[i].setAttribute("aria-selected", i === selected ? "true" : "false");
    }
    input.setAttribute("aria-activedescendant", items[selected].id);
  }

  function show(results) {
    list.textContent = "";
    selected = -1;
    results.forEach(function (r, i) {
      var li = document.createElement("li");
      li.id = "site-search-option-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      var a = document.createElement("a");
      a.href = pageOf(r.id);
      a.textContent = r.name;
      if (r.description) {
        var tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = r.description;
        a.appendChild(tag);
      }
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = results.length === 0;
    input.setAttribute("aria-expanded", results.length ? "true" : "false");
  }

  function ask() {
    var text = input.value.trim();
    if (!text) { close(); return; }
    var mine = ++asked;
    var url = endpoint + "?prefix=" + encodeURIComponent(text) + "&lang=" + encodeURIComponent(lang);
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { result: [] }; })
      .then(function (data) { if (mine === asked) show(data.result || []); })
      .catch(function () { if (mine === asked) close(); });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 120);
  });
  input.addEventListener("keydown", function (e) {
    if (list.hidden) return;
    if (e.key === "ArrowDown") { e.preventDefault(); select(selected + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); select(selected - 1); }
    else if (e.key === "Escape") { close(); }
    else if (e.key === "Enter" && selected >= 0) {
      e.preventDefault();
      window.location.href = list.querySelectorAll("li a")[selected].href;
    }
  });
  document.addEventListener("click", function (e) {
    if (!form.contains(e.target)) close();
  });
})();
