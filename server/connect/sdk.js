// terapi's frontend SDK: the body of a function that returns the `Terapi` class. The server
// wraps it twice: `/sdk.js` (a classic script setting `window.Terapi`) and `/sdk.mjs` (an ES
// module exporting it). Plain ES2020, no dependencies.
"use strict";

var EVENT_TAG = "connect-ui";
var FLOW_TIMEOUT_MS = 20000;
var POLL_MS = 500;

function failure(type, message, extra) {
  var error = { type: type, message: message };
  if (extra) {
    Object.keys(extra).forEach(function (k) {
      error[k] = extra[k];
    });
  }
  return error;
}

// The origin of `host` ("https://connect.example.com/base" -> "https://connect.example.com").
function originOf(host) {
  try {
    return new URL(host).origin;
  } catch (_) {
    throw new TypeError("Terapi: `host` must be an absolute URL, e.g. https://connect.example.com");
  }
}

// "tcs_…" tokens only: anything else is refused before it is sent anywhere.
function checkToken(token) {
  if (typeof token !== "string" || token.indexOf("tcs_") !== 0) {
    throw new TypeError("Terapi: `connectSessionToken` must be a connect session token (tcs_…) from POST /connect/sessions");
  }
}

// A server error `{error: {code, message, fields}}` as the SDK's rejection.
function serverFailure(status, body) {
  var e = body && body.error;
  if (!e || typeof e.code !== "string") {
    return failure("http_error", "the server answered " + status);
  }
  if (e.code === "invalid_params" && Array.isArray(e.fields) && e.fields.length > 0) {
    var text = e.fields
      .map(function (f) {
        return f.section + "." + f.param + ": " + f.message;
      })
      .join("; ");
    return failure(e.code, text, { fields: e.fields });
  }
  var type = e.code === "invalid_session" ? "session_expired" : e.code;
  return failure(type, String(e.message || e.code));
}

// A blank popup, opened at once (it keeps the click's user activation); `null` when blocked.
function openPopup() {
  try {
    return window.open("about:blank", "terapi-oauth", "popup,width=600,height=700");
  } catch (_) {
    return null;
  }
}

class Terapi {
  /**
   * @param {{host: string, connectSessionToken: string}} options
   */
  constructor(options) {
    var o = options || {};
    this.host = String(o.host || "").replace(/\/+$/, "");
    this.origin = originOf(this.host);
    checkToken(o.connectSessionToken);
    // Not enumerable: a console.log of the object does not print it.
    Object.defineProperty(this, "_token", { value: o.connectSessionToken, writable: true });
    this._modal = null;
    // How each provider connects, fetched now so that `auth` knows, without waiting, whether
    // to open a popup while the click's user activation lasts.
    this._ways = null;
    this._providers().catch(function () {});
  }

  // One request to the server with the session: its `data`, or a rejection `{type, message}`
  // (a network failure or a timeout is `network_error`).
  async _request(method, path, body) {
    var controller = new AbortController();
    var timer = setTimeout(function () {
      controller.abort();
    }, FLOW_TIMEOUT_MS);
    var headers = { Authorization: "Bearer " + this._token };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    var response;
    var json = null;
    try {
      response = await fetch(this.host + path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        referrerPolicy: "no-referrer",
        signal: controller.signal,
      });
      json = await response.json().catch(function () {
        return null;
      });
    } catch (_) {
      throw failure("network_error", "the connect server could not be reached");
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) {
      throw serverFailure(response.status, json);
    }
    return json && json.data;
  }

  // The session's providers and how each connects (an answer for an older token is dropped).
  async _providers() {
    var token = this._token;
    var data = await this._request("GET", "/providers");
    if (token !== this._token || !Array.isArray(data)) return;
    var ways = {};
    data.forEach(function (p) {
      ways[p.key] = p.connect;
    });
    this._ways = ways;
  }

  /** Uses another connect session (e.g. after the first expired). */
  setSessionToken(token) {
    checkToken(token);
    this._token = token;
    this._ways = null;
    this._providers().catch(function () {});
  }

  _post(path, body) {
    return this._request("POST", path, body);
  }

  _provider(provider) {
    return this._request("GET", "/providers/" + encodeURIComponent(provider));
  }

  /**
   * Connects `provider` for the session's end user. Credentials providers: one request with
   * `params` and `credentials`. OAuth providers: a popup (call `auth` in a click handler so
   * the browser allows it); a blocked popup falls back to a redirect of this page, and
   * `Terapi.redirectResult()` reads the result when it comes back.
   *
   * Resolves `{providerConfigKey, connectionId}`; rejects `{type, message}` (and `fields`
   * for `invalid_params`).
   */
  async auth(provider, connectionId, options) {
    if (typeof provider !== "string" || provider === "") {
      throw failure("invalid_argument", "`provider` must be a provider key, e.g. personio");
    }
    var o = options || {};
    // Opened before anything is awaited: a popup needs the click's user activation.
    var way = this._ways && this._ways[provider];
    if (way === "oauth") {
      return this._oauth(provider, connectionId, o, openPopup());
    }
    if (!way) {
      // Not known yet (or not allowed: the server says which).
      var detail = await this._provider(provider);
      way = detail && detail.connect;
      if (way === "oauth") {
        return this._oauth(provider, connectionId, o, openPopup());
      }
    }
    if (way !== "credentials") {
      throw failure("unsupported", "`" + provider + "` cannot be connected through this server");
    }
    var body = { params: o.params || {}, credentials: o.credentials || {} };
    if (connectionId) body.connection_id = connectionId;
    var data = await this._post("/auth/" + encodeURIComponent(provider), body);
    return { providerConfigKey: data.provider_config_key, connectionId: data.connection_id };
  }

  async _oauth(provider, connectionId, o, popup) {
    var body = { params: o.params || {}, origin: window.location.origin };
    if (connectionId) body.connection_id = connectionId;
    if (!popup) {
      // Blocked: this page goes to the provider and comes back with the result in its hash.
      body.return_to = window.location.href.split("#")[0];
      var redirect = await this._post("/oauth/start/" + encodeURIComponent(provider), body);
      window.location.assign(redirect.url);
      // The page unloads; nothing resolves here.
      return new Promise(function () {});
    }
    var start;
    try {
      start = await this._post("/oauth/start/" + encodeURIComponent(provider), body);
    } catch (e) {
      popup.close();
      throw e;
    }
    popup.location.href = start.url;
    var origin = this.origin;
    return new Promise(function (resolve, reject) {
      var done = false;
      function finish() {
        done = true;
        window.removeEventListener("message", onMessage);
        clearInterval(poll);
      }
      function onMessage(event) {
        if (done || event.origin !== origin || event.source !== popup) return;
        var d = event.data || {};
        if (d.type === "connect") {
          finish();
          resolve({ providerConfigKey: d.provider_config_key, connectionId: d.connection_id });
        } else if (d.type === "error") {
          finish();
          var e = d.error || {};
          reject(failure(e.type || "authorization_failed", e.message || "the authorization failed"));
        }
      }
      var poll = setInterval(function () {
        if (!done && popup.closed) {
          // The callback posts before it closes; give its message a moment to arrive.
          setTimeout(function () {
            if (!done) {
              finish();
              reject(failure("window_closed", "the authorization window was closed before the account was connected"));
            }
          }, POLL_MS);
        }
      }, POLL_MS);
      window.addEventListener("message", onMessage);
    });
  }

  /**
   * Opens the connect page in a modal iframe. `onEvent({type, payload})` hears `ready`,
   * `connect` ({provider_config_key, connection_id}), `error` ({type, message}) and `close`.
   * Returns `{close()}`.
   */
  openConnectUI(options) {
    var o = options || {};
    var onEvent = typeof o.onEvent === "function" ? o.onEvent : function () {};
    if (this._modal) this._modal.close();
    var self = this;
    var origin = this.origin;
    var url = this.host + "/connect?origin=" + encodeURIComponent(window.location.origin);
    if (o.lang) url += "&lang=" + encodeURIComponent(o.lang);

    var backdrop = document.createElement("div");
    backdrop.setAttribute("data-terapi-connect", "");
    var s = backdrop.style;
    s.position = "fixed";
    s.inset = "0";
    s.zIndex = "2147483647";
    s.background = "rgba(0,0,0,0.45)";
    s.display = "flex";
    s.alignItems = "center";
    s.justifyContent = "center";
    var frame = document.createElement("iframe");
    frame.src = url;
    frame.title = o.title || "Connect an account";
    frame.setAttribute("allow", "");
    frame.referrerPolicy = "origin";
    var f = frame.style;
    f.border = "0";
    f.borderRadius = "12px";
    f.width = "min(480px, 100vw)";
    f.height = "min(720px, 100vh)";
    f.background = "transparent";
    backdrop.appendChild(frame);

    var closed = false;
    function close() {
      if (closed) return;
      closed = true;
      window.removeEventListener("message", onMessage);
      if (backdrop.parentNode) backdrop.parentNode.removeChild(backdrop);
      if (self._modal === handle) self._modal = null;
    }
    function onMessage(event) {
      if (event.origin !== origin || event.source !== frame.contentWindow) return;
      var d = event.data || {};
      if (d.terapi !== EVENT_TAG || typeof d.type !== "string") return;
      var e = { type: d.type };
      if (d.payload !== undefined) e.payload = d.payload;
      try {
        onEvent(e);
      } finally {
        if (d.type === "close") close();
      }
    }
    frame.addEventListener("load", function () {
      frame.contentWindow.postMessage({ type: "terapi:session", token: self._token }, origin);
    });
    window.addEventListener("message", onMessage);
    document.body.appendChild(backdrop);
    frame.focus();
    var handle = { close: close, frame: frame };
    this._modal = handle;
    return handle;
  }

  /**
   * After a redirect fallback: the result the server put in this page's hash
   * (`{type: "connect", provider_config_key, connection_id}` or `{type: "error", error}`),
   * removed from the address; `null` when there is none.
   */
  static redirectResult() {
    var m = /[#&]terapi_result=([A-Za-z0-9_-]+)/.exec(window.location.hash);
    if (!m) return null;
    history.replaceState(null, "", window.location.href.split("#")[0]);
    try {
      var b64 = m[1].replace(/-/g, "+").replace(/_/g, "/");
      var text = new TextDecoder().decode(Uint8Array.from(atob(b64), function (c) {
        return c.charCodeAt(0);
      }));
      return JSON.parse(text);
    } catch (_) {
      return null;
    }
  }
}

return Terapi;
