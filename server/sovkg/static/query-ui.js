// The query UI: YASGUI on this server's /sparql, one tab per competency question.
// The configuration comes from the page's JSON data island (no inline script, so the page's
// Content-Security-Policy can forbid them). Nothing here may contact another origin: the
// LOV-backed class/property autocompleters are off and prefixes come from the bundled list.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("sovkg-query-ui-config").textContent);
  var endpoint = new URL(config.endpoint, document.baseURI).href;

  // Result tables show compact names: the project's prefixes, plus one prefix per kind of thing
  // in the results ("team:naver-cloud" for <https://w3id.org/ksai/id/team/naver-cloud>), like
  // server/namespaces.py prefixes_for does for dumps.
  function resultPrefixes(yasr) {
    var out = Object.assign({}, config.prefixes);
    var taken = Object.values(out);
    var results = yasr && yasr.results;
    var bindings = results && results.getBindings ? results.getBindings() || [] : [];
    bindings.forEach(function (row) {
      Object.keys(row).forEach(function (name) {
        var term = row[name];
        if (!term || term.type !== "uri" || term.value.indexOf(config.thingBase) !== 0) return;
        var parts = term.value.slice(config.thingBase.length).split("/");
        var kind = parts[0];
        var ns = config.thingBase + kind + "/";
        if (parts.length === 2 && parts[1] && /^[A-Za-z_][A-Za-z0-9_]*$/.test(kind) &&
            !(kind in out) && taken.indexOf(ns) < 0) {
          out[kind] = ns;
        }
      });
    });
    return out;
  }

  var yasgui = new Yasgui(document.getElementById("yasgui"), {
    autoAddOnInit: false,
    persistenceId: config.persistenceId,
    copyEndpointOnNewTab: true,
    tabName: "Query",
    requestConfig: {
      endpoint: endpoint,
      method: "POST",
      acceptHeaderSelect: "application/sparql-results+json,*/*;q=0.9",
      acceptHeaderGraph: "text/turtle,*/*;q=0.9",
    },
    endpointCatalogueOptions: {
      getData: function () {
        return [{ endpoint: endpoint }];
      },
    },
    yasqe: {
      // "class" and "property" query lov.linkeddata.es; "prefixes" uses its bundled list when
      // prefixCcApi is null.
      autocompleters: ["prefixes", "variables"],
      prefixCcApi: null,
      collapsePrefixesOnLoad: false,
      editorHeight: "320px",
    },
    yasr: {
      prefixes: resultPrefixes,
    },
  });

  // The question tabs come first, unless this browser already shows one of them (kept in its
  // localStorage, perhaps edited). A shared link ("#query=...") opens in a tab of its own,
  // which stays the active one.
  var stored = yasgui.persistentConfig;
  var names = stored.getTabs().map(function (id) {
    return stored.getTab(id).name;
  });
  var hasQuestions = config.tabs.some(function (tab) {
    return names.indexOf(tab.name) >= 0;
  });
  if (!hasQuestions) {
    config.tabs.forEach(function (tab, i) {
      yasgui.addTab(
        names.length === 0 && i === 0,
        { name: tab.name, yasqe: { value: tab.query }, requestConfig: { endpoint: endpoint } },
        { atIndex: i }
      );
    });
  }

  // Tests and the curious reach the instance here.
  window.sovkgYasgui = yasgui;
})();
