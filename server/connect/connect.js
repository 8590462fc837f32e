// The connect page: an end user picks a provider and connects their account with the form
// the catalog describes (credentials) or through the provider's sign-in page (OAuth).
// Plain ES2020, no dependencies; served with `script-src 'self'`.
"use strict";
(() => {
  const FETCH_TIMEOUT_MS = 20000;
  const SESSION_WAIT_MS = 10000;
  const POLL_MS = 500;
  const MAX_QUOTED_CHARS = 64;
  const UPPER_SNAKE_CASE_MAX_LEN = 64;

  // Validation messages mirror the Display text of model/src/error.rs (without the
  // "<section> param `<name>`: " prefix, as the server's 422 `fields` give them).
  const STRINGS = {
    en: {
      page_title: "Connect",
      loading: "Loading…",
      choose_title: "Connect an account",
      choose_intro: "Choose the service you want to connect.",
      search: "Search services",
      count: (n) => (n === 1 ? "1 service" : `${n} services`),
      no_match: "No service matches your search.",
      back: "All services",
      close: "Close",
      optional: "(optional)",
      form_intro: (name) => `Enter the details of your ${name} account.`,
      oauth_intro: (name) => `Sign in to ${name} in a new window to connect your account.`,
      docs: (name) => `How to find these details in ${name}`,
      new_tab: " (opens in a new tab)",
      field_docs: "More about this field",
      connect: "Connect",
      connecting: "Connecting…",
      fill_required: "Fill in every required field to connect.",
      fix_invalid: "Correct the fields marked as invalid to connect.",
      fix_server: "Please correct the fields marked below.",
      refused: (name) => `${name} did not accept these details. Check them and try again.`,
      unknown_field: (name, msg) => `${name}: ${msg}`,
      waiting: (name) => `Waiting for ${name}. Finish signing in in the window that opened.`,
      redirecting: (name) => `Taking you to ${name}…`,
      cancel: "Cancel",
      success_title: "Connected",
      success: (name) => `Your ${name} account is connected.`,
      success_hint: "You can close this window now.",
      done: "Done",
      retry: "Try again",
      error_title: "Something went wrong",
      errors: {
        session_expired: ["Session expired", "This connect session has expired or is no longer valid. Close this window and start again from the application."],
        no_session: ["No connect session", "This page was opened without a connect session. Open it again from the application."],
        network: ["Connection problem", "The server could not be reached. Check your internet connection and try again."],
        timeout: ["Connection problem", "The server took too long to answer. Try again in a moment."],
        window_closed: ["Window closed", "The sign-in window was closed before the account was connected."],
        no_providers: ["Nothing to connect", "This connect session does not allow any service."],
        unsupported_provider: ["Not available", "This service cannot be connected here."],
        rate_limited: ["Too many attempts", "Please wait a minute, then try again."],
        authorization_failed: ["Not connected", "The sign-in did not complete, so the account is not connected."],
        access_denied: ["Not connected", "Access was not granted, so the account is not connected."],
      },
      v_empty: "required param is empty",
      v_value: (q) => `value ${q}`,
      v_secret: "the secret value (not shown)",
      v_pattern: (w, p) => `${w} does not match the pattern \`${p}\``,
      v_upper: (w) =>
        `${w} is not UPPER_SNAKE_CASE (an uppercase letter, then uppercase letters and digits, words joined by single underscores, at most ${UPPER_SNAKE_CASE_MAX_LEN} characters; e.g. MY_APPLICATION)`,
      v_one_of: (w, list) => `${w} is not one of ${list}`,
      choose_value: "Choose…",
    },
    de: {
      page_title: "Verbinden",
      loading: "Wird geladen…",
      choose_title: "Konto verbinden",
      choose_intro: "Wählen Sie den Dienst, den Sie verbinden möchten.",
      search: "Dienste durchsuchen",
      count: (n) => (n === 1 ? "1 Dienst" : `${n} Dienste`),
      no_match: "Kein Dienst passt zu Ihrer Suche.",
      back: "Alle Dienste",
      close: "Schließen",
      optional: "(optional)",
      form_intro: (name) => `Geben Sie die Daten Ihres ${name}-Kontos ein.`,
      oauth_intro: (name) => `Melden Sie sich in einem neuen Fenster bei ${name} an, um Ihr Konto zu verbinden.`,
      docs: (name) => `So finden Sie diese Angaben in ${name}`,
      new_tab: " (öffnet in einem neuen Tab)",
      field_docs: "Mehr zu diesem Feld",
      connect: "Verbinden",
      connecting: "Wird verbunden…",
      fill_required: "Füllen Sie alle Pflichtfelder aus, um zu verbinden.",
      fix_invalid: "Korrigieren Sie die als ungültig markierten Felder, um zu verbinden.",
      fix_server: "Bitte korrigieren Sie die unten markierten Felder.",
      refused: (name) => `${name} hat diese Angaben nicht akzeptiert. Prüfen Sie sie und versuchen Sie es erneut.`,
      unknown_field: (name, msg) => `${name}: ${msg}`,
      waiting: (name) => `Warten auf ${name}. Schließen Sie die Anmeldung im geöffneten Fenster ab.`,
      redirecting: (name) => `Weiterleitung zu ${name}…`,
      cancel: "Abbrechen",
      success_title: "Verbunden",
      success: (name) => `Ihr ${name}-Konto ist verbunden.`,
      success_hint: "Sie können dieses Fenster jetzt schließen.",
      done: "Fertig",
      retry: "Erneut versuchen",
      error_title: "Etwas ist schiefgelaufen",
      errors: {
        session_expired: ["Sitzung abgelaufen", "Diese Verbindungssitzung ist abgelaufen oder nicht mehr gültig. Schließen Sie dieses Fenster und beginnen Sie erneut in der Anwendung."],
        no_session: ["Keine Verbindungssitzung", "Diese Seite wurde ohne Verbindungssitzung geöffnet. Öffnen Sie sie erneut aus der Anwendung."],
        network: ["Verbindungsproblem", "Der Server ist nicht erreichbar. Prüfen Sie Ihre Internetverbindung und versuchen Sie es erneut."],
        timeout: ["Verbindungsproblem", "Der Server hat zu lange nicht geantwortet. Versuchen Sie es gleich noch einmal."],
        window_closed: ["Fenster geschlossen", "Das Anmeldefenster wurde geschlossen, bevor das Konto verbunden war."],
        no_providers: ["Nichts zu verbinden", "Diese Verbindungssitzung erlaubt keinen Dienst."],
        unsupported_provider: ["Nicht verfügbar", "Dieser Dienst kann hier nicht verbunden werden."],
        rate_limited: ["Zu viele Versuche", "Bitte warten Sie eine Minute und versuchen Sie es dann erneut."],
        authorization_failed: ["Nicht verbunden", "Die Anmeldung wurde nicht abgeschlossen, daher ist das Konto nicht verbunden."],
        access_denied: ["Nicht verbunden", "Der Zugriff wurde nicht gewährt, daher ist das Konto nicht verbunden."],
      },
      v_empty: "Pflichtfeld ist leer",
      v_value: (q) => `Wert ${q}`,
      v_secret: "der geheime Wert (nicht angezeigt)",
      v_pattern: (w, p) => `${w} entspricht nicht dem Muster \`${p}\``,
      v_upper: (w) =>
        `${w} ist nicht UPPER_SNAKE_CASE (ein Großbuchstabe, dann Großbuchstaben und Ziffern, Wörter durch einzelne Unterstriche verbunden, höchstens ${UPPER_SNAKE_CASE_MAX_LEN} Zeichen; z. B. MY_APPLICATION)`,
      v_one_of: (w, list) => `${w} ist keiner der Werte ${list}`,
      choose_value: "Bitte wählen…",
    },
  };

  const $ = (id) => document.getElementById(id);
  const el = (tag, props, children) => {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "text") node.textContent = v;
        else if (k in node && typeof v !== "string") node[k] = v;
        else node.setAttribute(k, v === true ? "" : v);
      }
    }
    for (const c of children || []) if (c) node.append(c);
    return node;
  };

  // ---- Where we are: language, configuration, parent ------------------------------------

  const query = new URLSearchParams(location.search);
  const htmlLang = document.documentElement.lang || "";
  const lang = /^de\b/i.test(htmlLang) || (!/^[a-z]{2}/i.test(htmlLang) && query.get("lang") === "de") ? "de" : "en";
  if (!/^(en|de)\b/.test(htmlLang)) document.documentElement.lang = lang;
  const t = STRINGS[lang];

  let config = { origins: [] };
  try {
    const parsed = JSON.parse($("terapi-config").textContent);
    if (parsed && typeof parsed === "object") config = parsed;
  } catch (_) {
    // The template was not filled in (e.g. opened as a file): no parent origin is trusted.
  }
  const origins = Array.isArray(config.origins) ? config.origins : [];
  const framed = window.parent !== window;
  const requestedOrigin = query.get("origin");
  const parentOrigin = framed && requestedOrigin && origins.includes(requestedOrigin) ? requestedOrigin : null;

  // The session token: taken from the URL once, then only in memory.
  let token = query.get("session_token");
  if (query.has("session_token")) {
    query.delete("session_token");
    const rest = query.toString();
    history.replaceState(history.state, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
  }

  function post(type, payload) {
    if (!parentOrigin) return;
    const message = { terapi: "connect-ui", type };
    if (payload !== undefined) message.payload = payload;
    try {
      window.parent.postMessage(message, parentOrigin);
    } catch (_) {
      // The parent navigated away.
    }
  }

  // ---- State -------------------------------------------------------------------------

  const state = {
    providers: [],
    provider: null, // the detail of the chosen provider
    fields: [], // {spec, section, input, error, touched, serverError}
    busy: false,
    readySent: false,
    oauth: null, // the OAuth popup's flow: {popup, timer, listener, done, cancel}
  };

  // ---- Screens -----------------------------------------------------------------------

  const SCREENS = ["loading", "providers", "form", "success", "error"];

  function show(screen, title, focus) {
    for (const s of SCREENS) $(`screen-${s}`).hidden = s !== screen;
    document.body.dataset.screen = screen;
    $("title").textContent = title;
    document.title = title;
    const back = screen === "form" && state.providers.length > 1;
    $("back").hidden = !back;
    $("bar").hidden = !back && $("close").hidden;
    if (focus) focus.focus();
    else if (screen !== "loading") $("title").focus();
  }

  function sendReady() {
    if (state.readySent) return;
    state.readySent = true;
    post("ready");
  }

  function loading(text, title, cancel) {
    $("loading-text").textContent = text || t.loading;
    $("cancel-oauth").hidden = !cancel;
    show("loading", title || t.page_title, cancel ? $("cancel-oauth") : null);
  }

  // An error a person can act on: a title, a sentence, maybe a retry.
  function fail(type, message, retry) {
    const known = t.errors[type];
    const screen = $("screen-error");
    // A timeout is a network failure to the parent and the tests; only its words differ.
    screen.dataset.errorType = type === "timeout" ? "network" : type;
    $("error-text").textContent = known ? known[1] : message || t.error_title;
    $("error-detail").textContent = known && message && !["network", "timeout", "session_expired"].includes(type) ? message : "";
    const retryButton = $("retry");
    retryButton.hidden = !retry;
    retryButton.onclick = retry || null;
    show("error", known ? known[0] : t.error_title, retry ? retryButton : null);
    sendReady();
    post("error", { type: type === "timeout" ? "network" : type, message: $("error-text").textContent });
  }

  // ---- HTTP --------------------------------------------------------------------------

  class Failure extends Error {
    constructor(status, code, message, fields) {
      super(message);
      this.status = status;
      this.code = code;
      this.fields = fields || [];
    }
  }

  async function api(method, path, body) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
    let response;
    let json = null;
    try {
      const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
      });
      const text = await response.text();
      try {
        json = text ? JSON.parse(text) : null;
      } catch (_) {
        json = null;
      }
    } catch (e) {
      throw new Failure(0, controller.signal.aborted ? "timeout" : "network", "");
    } finally {
      clearTimeout(timer);
    }
    const object = json && typeof json === "object" ? json : {};
    if (response.ok) return "data" in object ? object.data : json;
    const error = object.error && typeof object.error === "object" ? object.error : {};
    let code = typeof error.code === "string" ? error.code : `http_${response.status}`;
    if (response.status === 401) code = "session_expired";
    if (response.status === 429) code = "rate_limited";
    const fields = Array.isArray(error.fields) ? error.fields.filter((f) => f && typeof f.message === "string") : [];
    throw new Failure(response.status, code, typeof error.message === "string" ? error.message : "", fields);
  }

  // What to do with a failure while loading: a screen, maybe with a retry.
  function failed(e, retry) {
    if (!(e instanceof Failure)) {
      fail("error", String((e && e.message) || e), retry);
      return;
    }
    const retryable = e.code === "network" || e.code === "timeout" || e.code === "rate_limited" || e.status >= 500;
    fail(e.code, e.message, e.code === "session_expired" ? null : retryable ? retry : null);
  }

  // ---- Providers ---------------------------------------------------------------------

  async function start() {
    loading();
    let providers;
    try {
      providers = await api("GET", "/providers");
    } catch (e) {
      failed(e, start);
      return;
    }
    state.providers = Array.isArray(providers) ? providers : [];
    if (state.providers.length === 0) {
      fail("no_providers", "");
      return;
    }
    if (state.providers.length === 1) {
      await openProvider(state.providers[0].key);
      return;
    }
    showProviders();
  }

  function showProviders() {
    const list = $("provider-list");
    if (!list.childElementCount) {
      for (const p of state.providers) {
        const meta = Array.isArray(p.categories) ? p.categories.join(" · ") : "";
        const button = el("button", { type: "button", "data-provider": p.key }, [
          el("span", { class: "initial", "aria-hidden": "true", text: (p.display_name || p.key).charAt(0).toUpperCase() }),
          el("span", { class: "name", text: p.display_name || p.key }),
          meta ? el("span", { class: "meta", text: meta }) : null,
        ]);
        button.addEventListener("click", () => openProvider(p.key));
        list.append(el("li", null, [button]));
      }
    }
    $("providers-intro").textContent = t.choose_intro;
    $("provider-search-label").textContent = t.search;
    filterProviders();
    show("providers", t.choose_title, $("provider-search"));
    sendReady();
  }

  function filterProviders() {
    const q = $("provider-search").value.trim().toLowerCase();
    let n = 0;
    for (const li of $("provider-list").children) {
      const key = li.firstChild.dataset.provider;
      const p = state.providers.find((x) => x.key === key);
      const hay = [p.key, p.display_name || "", ...(p.categories || [])].join(" ").toLowerCase();
      li.hidden = q !== "" && !hay.includes(q);
      if (!li.hidden) n += 1;
    }
    $("provider-count").textContent = n === 0 ? t.no_match : t.count(n);
  }

  function visibleProviderButtons() {
    return [...$("provider-list").children].filter((li) => !li.hidden).map((li) => li.firstChild);
  }

  $("provider-search").addEventListener("input", filterProviders);
  $("provider-search").addEventListener("keydown", (e) => {
    const buttons = visibleProviderButtons();
    if (e.key === "ArrowDown" && buttons.length) {
      e.preventDefault();
      buttons[0].focus();
    } else if (e.key === "Enter" && buttons.length) {
      e.preventDefault();
      buttons[0].click();
    }
  });
  $("provider-list").addEventListener("keydown", (e) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp" && e.key !== "Home" && e.key !== "End") return;
    const buttons = visibleProviderButtons();
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    if (e.key === "Home") buttons[0].focus();
    else if (e.key === "End") buttons[buttons.length - 1].focus();
    else if (e.key === "ArrowDown") buttons[Math.min(i + 1, buttons.length - 1)].focus();
    else if (i === 0) $("provider-search").focus();
    else buttons[i - 1].focus();
  });

  // ---- The form ----------------------------------------------------------------------

  async function openProvider(key) {
    loading();
    let detail;
    try {
      detail = await api("GET", `/providers/${encodeURIComponent(key)}`);
    } catch (e) {
      failed(e, () => openProvider(key));
      return;
    }
    if (!detail || typeof detail !== "object") {
      fail("error", "", () => openProvider(key));
      return;
    }
    if (detail.connect === "unsupported") {
      fail("unsupported_provider", "", state.providers.length > 1 ? showProviders : null);
      return;
    }
    renderForm(detail);
  }

  // Only web links from the catalog become links.
  function webUrl(text) {
    if (typeof text !== "string" || !/^https?:\/\//i.test(text)) return null;
    try {
      const url = new URL(text);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function displayName(p) {
    return (p && (p.display_name || p.key)) || "";
  }

  function renderForm(detail) {
    state.provider = detail;
    state.fields = [];
    const name = displayName(detail);
    const form = detail.form || {};
    const specs = [];
    for (const [section, list] of [["params", form.connection_config], ["credentials", form.credentials]]) {
      for (const spec of Array.isArray(list) ? list : []) specs.push({ spec, section, index: specs.length });
    }
    // `order` when the catalog gives one, catalog order otherwise (and between equals).
    const rank = (x) => (typeof x.spec.order === "number" ? x.spec.order : Number.MAX_SAFE_INTEGER);
    specs.sort((a, b) => rank(a) - rank(b) || a.index - b.index);

    const box = $("form-fields");
    box.textContent = "";
    for (const { spec, section } of specs) {
      if (spec.automated) continue;
      if (spec.hidden) {
        state.fields.push({ spec, section, input: null, error: null, touched: false, serverError: null });
        continue;
      }
      box.append(renderField(spec, section, detail));
    }

    const oauth = detail.connect === "oauth";
    $("form-intro").textContent = oauth ? t.oauth_intro(name) : t.form_intro(name);
    const docs = webUrl(detail.docs_connect || detail.docs_url || "");
    $("docs").hidden = !docs;
    if (docs) {
      const link = $("docs-link");
      link.href = docs;
      link.textContent = t.docs(name);
      link.append(el("span", { class: "sr-only", text: t.new_tab }));
    }
    $("form-error").textContent = "";
    delete $("form-error").dataset.errorType;
    $("connect-submit").textContent = t.connect;
    state.busy = false;
    update();
    const first = state.fields.find((f) => f.input);
    show("form", name, first ? first.input : null);
    performance.mark("terapi:form-rendered");
    sendReady();
  }

  function renderField(spec, section, detail) {
    const id = `field-${section}-${spec.name}`;
    const help = spec.description ? `${id}-help` : null;
    const described = [help, spec.prefix ? `${id}-prefix` : null, spec.suffix ? `${id}-suffix` : null, `${id}-error`];
    const common = {
      id,
      name: spec.name,
      "data-section": section,
      "aria-describedby": described.filter(Boolean).join(" "),
      "aria-required": spec.optional ? null : "true",
    };
    let input;
    const oneOf = Array.isArray(spec.one_of) ? spec.one_of : [];
    if (oneOf.length) {
      input = el("select", common, [el("option", { value: "", text: t.choose_value })]);
      for (const v of oneOf) input.append(el("option", { value: v, text: v }));
      input.value = oneOf.includes(spec.default_value) ? spec.default_value : "";
    } else {
      input = el("input", {
        ...common,
        type: spec.secret ? "password" : "text",
        autocomplete: "off",
        spellcheck: "false",
        autocapitalize: "off",
        inputmode: { email: "email", uri: "url" }[spec.format] || null,
        placeholder: spec.example || null,
      });
      if (typeof spec.default_value === "string") input.value = spec.default_value;
    }
    const field = { spec, section, input, error: null, touched: false, serverError: null };
    state.fields.push(field);
    input.addEventListener("input", () => {
      field.touched = true;
      field.serverError = null;
      update(field);
    });
    input.addEventListener("change", () => {
      field.touched = true;
      update(field);
    });
    input.addEventListener("blur", () => {
      if (input.value !== "" || field.touched) {
        field.touched = true;
        update(field);
      }
    });

    const label = el("label", { for: id }, [spec.title || spec.name]);
    if (spec.optional) label.append(" ", el("span", { class: "optional", text: t.optional }));
    const row = el("div", { class: "row" }, [
      spec.prefix ? el("span", { class: "affix", id: `${id}-prefix`, text: spec.prefix }) : null,
      input,
      spec.suffix ? el("span", { class: "affix", id: `${id}-suffix`, text: spec.suffix }) : null,
    ]);
    let helpNode = null;
    if (help) {
      helpNode = el("p", { class: "help", id: help, text: spec.description });
      const base = detail.docs_connect || detail.docs_url;
      const href = spec.doc_section && base ? webUrl(/^https?:\/\//.test(spec.doc_section) ? spec.doc_section : base + spec.doc_section) : null;
      if (href) {
        helpNode.append(" ", el("a", { href, target: "_blank", rel: "noopener noreferrer", text: t.field_docs }, [el("span", { class: "sr-only", text: t.new_tab })]));
      }
    }
    const error = el("p", { class: "error", id: `${id}-error` });
    return el("div", { class: "field" }, [label, row, helpNode, error]);
  }

  // What Rust's `{:?}` writes as `\u{…}`: controls, format and private-use characters,
  // unassigned code points, separators other than the space, combining marks.
  const UNPRINTABLE = /^(?:[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Grapheme_Extend}]|(?! )\p{Zs})$/u;

  // Rust's `{:?}` of a string, cut to 64 characters (model/src/error.rs `quoted`).
  function quoted(value) {
    const chars = Array.from(value);
    const head = chars.slice(0, MAX_QUOTED_CHARS);
    let out = '"';
    for (const c of head) {
      const code = c.codePointAt(0);
      if (c === '"') out += '\\"';
      else if (c === "\\") out += "\\\\";
      else if (c === "\n") out += "\\n";
      else if (c === "\r") out += "\\r";
      else if (c === "\t") out += "\\t";
      else if (c === "\0") out += "\\0";
      else if (UNPRINTABLE.test(c)) out += `\\u{${code.toString(16)}}`;
      else out += c;
    }
    out += '"';
    return chars.length > MAX_QUOTED_CHARS ? `${out}…` : out;
  }

  // model/src/rules.rs `is_upper_snake_case`.
  function isUpperSnakeCase(v) {
    return v.length > 0 && v.length <= UPPER_SNAKE_CASE_MAX_LEN && /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/.test(v);
  }

  const compiled = new Map();
  function regex(pattern) {
    if (!compiled.has(pattern)) {
      let re = null;
      try {
        re = new RegExp(pattern);
      } catch (_) {
        // An invalid pattern never blocks the form; the server has the last word.
      }
      compiled.set(pattern, re);
    }
    return compiled.get(pattern);
  }

  // The problems of one value, in the validator's order: empty, rule, one_of.
  function problems(spec, value) {
    if (value === "") return spec.optional ? [] : [t.v_empty];
    const what = spec.secret ? t.v_secret : t.v_value(quoted(value));
    const out = [];
    if (spec.rule === "upper_snake_case") {
      if (!isUpperSnakeCase(value)) out.push(t.v_upper(what));
    } else if (typeof spec.pattern === "string" && spec.pattern) {
      const re = regex(spec.pattern);
      if (re && !re.test(value)) out.push(t.v_pattern(what, spec.pattern));
    }
    const oneOf = Array.isArray(spec.one_of) ? spec.one_of : [];
    if (oneOf.length && !oneOf.includes(value)) out.push(t.v_one_of(what, oneOf.map((a) => `\`${a}\``).join(", ")));
    return out;
  }

  let announceTimer = 0;
  function announce(text) {
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => {
      // Emptied first, so that the same message said again is announced again.
      $("live").textContent = "";
      announceTimer = setTimeout(() => {
        $("live").textContent = text;
      }, 50);
    }, 700);
  }

  // Shows each field's problems (once touched) and enables Connect when there are none.
  function update(changed) {
    let empty = false;
    let invalid = false;
    for (const f of state.fields) {
      if (!f.input) continue;
      const value = f.input.value;
      const found = problems(f.spec, value);
      if (found.length && value === "") empty = true;
      else if (found.length || f.serverError) invalid = true;
      const visible = f.serverError ? [f.serverError] : f.touched ? found : [];
      const text = visible.join("\n");
      if (text !== f.error) {
        f.error = text;
        $(`${f.input.id}-error`).textContent = text;
        if (text) f.input.setAttribute("aria-invalid", "true");
        else f.input.removeAttribute("aria-invalid");
        if (f === changed && text) announce(`${f.spec.title || f.spec.name}: ${text}`);
      }
    }
    const submit = $("connect-submit");
    submit.disabled = empty || invalid;
    // Busy, it stays focusable (a disabled button would drop the keyboard's focus).
    if (state.busy) submit.setAttribute("aria-disabled", "true");
    else submit.removeAttribute("aria-disabled");
    $("submit-hint").textContent = state.busy ? "" : invalid ? t.fix_invalid : empty ? t.fill_required : "";
  }

  function values() {
    const body = { params: {}, credentials: {} };
    for (const f of state.fields) {
      const value = f.input ? f.input.value : typeof f.spec.default_value === "string" ? f.spec.default_value : "";
      if (value !== "") body[f.section][f.spec.name] = value;
    }
    return body;
  }

  function setBusy(busy) {
    state.busy = busy;
    $("connect-form").setAttribute("aria-busy", busy ? "true" : "false");
    $("connect-submit").textContent = busy ? t.connecting : t.connect;
    update();
  }

  function formError(text, type) {
    const box = $("form-error");
    box.textContent = text;
    if (type) box.dataset.errorType = type;
    else delete box.dataset.errorType;
    if (text) box.scrollIntoView({ block: "nearest" });
  }

  // A refusal shown on the form: the server's field errors on their inputs, the rest above
  // the button. Anything else gets its own screen.
  function refused(e, again) {
    if (!(e instanceof Failure)) {
      failed(e, again);
      return;
    }
    if (e.code === "invalid_params" && e.fields.length) {
      const rest = [];
      for (const fe of e.fields) {
        const f = state.fields.find((x) => x.input && x.section === fe.section && x.spec.name === fe.param);
        if (f) {
          f.serverError = f.serverError ? `${f.serverError}\n${fe.message}` : fe.message;
          f.touched = true;
        } else {
          rest.push(t.unknown_field(fe.param, fe.message));
        }
      }
      formError([t.fix_server, ...rest].join("\n"), "invalid_params");
      update();
      const first = state.fields.find((f) => f.serverError);
      if (first) first.input.focus();
      return;
    }
    if (e.code === "invalid_credentials") {
      formError([t.refused(displayName(state.provider)), e.message].filter(Boolean).join("\n"), e.code);
      return;
    }
    if ((e.status === 422 && e.code !== "unsupported_provider") || e.status === 409 || e.status === 400 || e.status === 403) {
      formError(e.message || t.error_title, e.code);
      return;
    }
    failed(e, again);
  }

  $("connect-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (state.busy || $("connect-submit").disabled || !state.provider) return;
    if (state.provider.connect === "oauth") startOAuth();
    else submitCredentials();
  });

  async function submitCredentials() {
    const key = state.provider.key;
    formError("");
    setBusy(true);
    let data;
    try {
      data = await api("POST", `/auth/${encodeURIComponent(key)}`, values());
    } catch (e) {
      setBusy(false);
      refused(e, backToForm);
      return;
    }
    setBusy(false);
    succeeded({ provider_config_key: (data && data.provider_config_key) || key, connection_id: data && data.connection_id }, displayName(state.provider));
  }

  function backToForm() {
    if (!state.provider) {
      start();
      return;
    }
    show("form", displayName(state.provider), null);
  }

  function succeeded(result, name) {
    $("success-text").textContent = t.success(name || result.provider_config_key);
    $("success-hint").textContent = parentOrigin ? "" : t.success_hint;
    const done = $("done");
    done.textContent = t.done;
    done.hidden = !closable();
    show("success", t.success_title, done.hidden ? null : done);
    sendReady();
    post("connect", { provider_config_key: result.provider_config_key, connection_id: result.connection_id });
  }

  // ---- OAuth -------------------------------------------------------------------------

  function startOAuth() {
    // Opened synchronously in the click handler, so that the browser allows it.
    const popup = window.open("about:blank", "terapi-oauth", "popup,width=600,height=700");
    if (!popup) {
      redirectOAuth();
      return;
    }
    const provider = state.provider;
    const name = displayName(provider);
    formError("");
    const flow = { popup, done: false, timer: 0, closedAt: 0 };
    state.oauth = flow;
    const finish = () => {
      flow.done = true;
      clearInterval(flow.timer);
      window.removeEventListener("message", flow.listener);
      if (state.oauth === flow) state.oauth = null;
    };
    flow.cancel = () => {
      finish();
      try {
        popup.close();
      } catch (_) {
        // Already closed.
      }
    };
    flow.listener = (event) => {
      if (flow.done || event.origin !== location.origin || event.source !== popup) return;
      const data = event.data;
      if (!data || typeof data !== "object") return;
      if (data.type === "connect") {
        finish();
        succeeded(data, name);
      } else if (data.type === "error") {
        finish();
        const err = data.error || {};
        fail(typeof err.type === "string" ? err.type : "oauth_error", typeof err.message === "string" ? err.message : "", retryOAuth);
      }
    };
    window.addEventListener("message", flow.listener);
    flow.timer = setInterval(() => {
      if (flow.done || !popup.closed) return;
      // The callback posts its result, then closes: give that message a moment to arrive.
      if (!flow.closedAt) {
        flow.closedAt = Date.now();
        return;
      }
      if (Date.now() - flow.closedAt >= POLL_MS * 2) {
        finish();
        fail("window_closed", "", retryOAuth);
      }
    }, POLL_MS);
    loading(t.waiting(name), name, true);
    api("POST", `/oauth/start/${encodeURIComponent(provider.key)}`, { ...oauthBody(), origin: location.origin })
      .then((data) => {
        if (flow.done) return;
        if (!data || typeof data.url !== "string") throw new Failure(0, "error", "");
        popup.location = data.url;
        try {
          popup.focus();
        } catch (_) {
          // Not focusable.
        }
      })
      .catch((e) => {
        if (flow.done) return;
        flow.cancel();
        backToForm();
        refused(e, backToForm);
      });
  }

  function retryOAuth() {
    backToForm();
    if (!$("connect-submit").disabled) startOAuth();
  }

  function oauthBody() {
    const body = values();
    const params = body.params;
    return Object.keys(params).length ? { params } : {};
  }

  async function redirectOAuth() {
    const provider = state.provider;
    const name = displayName(provider);
    loading(t.redirecting(name), name);
    try {
      sessionStorage.setItem(`terapi:name:${provider.key}`, name);
    } catch (_) {
      // No storage: the success screen names the key instead.
    }
    const returnTo = location.href.split("#")[0];
    let data;
    try {
      data = await api("POST", `/oauth/start/${encodeURIComponent(provider.key)}`, { ...oauthBody(), origin: location.origin, return_to: returnTo });
    } catch (e) {
      backToForm();
      refused(e, backToForm);
      return;
    }
    if (!data || typeof data.url !== "string") {
      fail("error", "", backToForm);
      return;
    }
    location.assign(data.url);
  }

  $("cancel-oauth").addEventListener("click", () => {
    if (state.oauth) state.oauth.cancel();
    backToForm();
  });

  // The redirect fallback comes back with `#terapi_result=<base64url JSON>`.
  function redirectResult() {
    const match = /(?:^#|&)terapi_result=([A-Za-z0-9_-]*=*)/.exec(location.hash);
    if (!match) return false;
    history.replaceState(history.state, "", location.pathname + location.search);
    let result = null;
    try {
      const b64 = match[1].replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
      const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
      result = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
    } catch (_) {
      result = null;
    }
    if (result && result.type === "connect" && typeof result.provider_config_key === "string") {
      let name = null;
      try {
        name = sessionStorage.getItem(`terapi:name:${result.provider_config_key}`);
      } catch (_) {
        // No storage.
      }
      succeeded(result, name);
    } else {
      const err = (result && result.error) || {};
      fail(typeof err.type === "string" ? err.type : "oauth_error", typeof err.message === "string" ? err.message : "", token ? start : null);
    }
    return true;
  }

  // ---- Close -------------------------------------------------------------------------

  function closable() {
    return Boolean(parentOrigin || window.opener);
  }

  function close() {
    if (!closable()) return;
    if (state.oauth) state.oauth.cancel();
    if (parentOrigin) post("close");
    else if (window.opener) window.close();
  }

  $("close").addEventListener("click", close);
  $("done").addEventListener("click", close);
  $("back").addEventListener("click", () => {
    if (state.oauth) state.oauth.cancel();
    showProviders();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || e.defaultPrevented) return;
    // Escape first clears a search field that has text.
    if (e.target === $("provider-search") && $("provider-search").value) return;
    close();
  });

  // ---- Start -------------------------------------------------------------------------

  function init() {
    $("close").setAttribute("aria-label", t.close);
    $("close").hidden = !closable();
    $("back-text").textContent = t.back;
    $("cancel-oauth").textContent = t.cancel;
    $("retry").textContent = t.retry;
    $("loading-text").textContent = t.loading;
    document.title = t.page_title;
    $("title").textContent = t.page_title;

    if (redirectResult()) return;
    if (token) {
      start();
      return;
    }
    if (!parentOrigin) {
      fail("no_session", "");
      return;
    }
    const timer = setTimeout(() => {
      window.removeEventListener("message", onSession);
      fail("no_session", "");
    }, SESSION_WAIT_MS);
    function onSession(event) {
      if (event.source !== window.parent || event.origin !== parentOrigin) return;
      const data = event.data;
      if (!data || data.type !== "terapi:session" || typeof data.token !== "string" || !data.token) return;
      clearTimeout(timer);
      window.removeEventListener("message", onSession);
      token = data.token;
      start();
    }
    window.addEventListener("message", onSession);
  }

  init();
})();
