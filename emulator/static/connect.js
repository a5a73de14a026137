/* wishpond-emulator connect.js: Wishpond.Tracker for pages, sending to the emulator that served it. */
(function (window, document) {
  "use strict";

  var W = window.Wishpond = window.Wishpond || {};
  if (W.Tracker && W.Tracker.emulator) return; // loaded twice: the first copy already routes calls

  var STORAGE_KEY = "wishpond_anonymous_id";
  var COOKIE_MAX_AGE = 63072000; // two years, in seconds
  var KEEPALIVE_LIMIT = 60000; // browsers refuse keepalive bodies past 64 KiB in flight

  var script = ownScript();
  var src = new URL(script ? script.src : "/connect.js", document.baseURI);
  var origin = src.origin;
  var pending = []; // calls not yet sent, oldest first
  var sending = false;
  var last = Promise.resolve();
  var unreachableWarned = false;
  var anonymousId = null;

  function ownScript() {
    if (document.currentScript && document.currentScript.src) return document.currentScript;
    var el = document.getElementById("wishpond-tracker") || document.getElementById("wishpond-connect");
    if (el && el.src) return el;
    var scripts = document.getElementsByTagName("script");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/connect\.js(?:[?#]|$)/.test(scripts[i].src)) return scripts[i];
    }
    return null;
  }

  function setting(value, name) {
    if (value === undefined || value === null || value === "") value = src.searchParams.get(name);
    return value === null || value === "" ? undefined : String(value); // merchant ids may be numbers
  }

  function credentials() {
    return { merchant_id: setting(W.merchantId, "merchantId"), write_key: setting(W.writeKey, "writeKey") };
  }

  function warn(message) {
    Logger.warn("Wishpond tracker: " + message);
  }

  function newId() {
    var c = window.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    var bytes = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    return Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }

  function readCookie() {
    var match = document.cookie.match(new RegExp("(?:^|; )" + STORAGE_KEY + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }

  function anonId() {
    if (anonymousId) return anonymousId;
    var stored = null;
    try { stored = window.localStorage.getItem(STORAGE_KEY); } catch (e) { /* blocked storage */ }
    anonymousId = stored || readCookie() || newId();
    try {
      window.localStorage.setItem(STORAGE_KEY, anonymousId);
    } catch (e) {
      document.cookie = STORAGE_KEY + "=" + encodeURIComponent(anonymousId) +
        "; path=/; max-age=" + COOKIE_MAX_AGE + "; SameSite=Lax";
    }
    return anonymousId;
  }

  function describe(call, status, error) {
    var text = call.name + " was rejected by " + origin + " (HTTP " + status +
      (error && error.code ? " " + error.code : "") + "): " +
      (error && error.message ? error.message : "no JSON error body; is this the emulator?");
    var creds = credentials();
    if (!creds.merchant_id || !creds.write_key) {
      text += " Set Wishpond.merchantId and Wishpond.writeKey before connect.js loads, " +
        "or load connect.js?merchantId=...&writeKey=...";
    }
    return text;
  }

  function send(call) {
    var options = {
      method: "POST",
      // text/plain keeps this a simple request: no CORS preflight, and the same as sendBeacon.
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: call.body,
      credentials: "omit",
      // The limit is in bytes: measure UTF-8, not UTF-16 code units.
      keepalive: new Blob([call.body]).size < KEEPALIVE_LIMIT
    };
    return fetch(origin + call.path, options).then(function (response) {
      unreachableWarned = false;
      return response.json().catch(function () { return null; }).then(function (answer) {
        if (!response.ok) warn(describe(call, response.status, answer && answer.error));
        return answer;
      });
    }, function (err) {
      if (!unreachableWarned) warn("could not reach " + origin + call.path + " (" + err + ").");
      unreachableWarned = true;
      return null;
    });
  }

  function pump() {
    if (sending || !pending.length) return;
    var call = pending.shift();
    sending = true;
    send(call).then(function (answer) {
      sending = false;
      call.resolve(answer);
      pump();
    });
  }

  function enqueue(name, body) {
    var creds = credentials();
    body.merchant_id = creds.merchant_id;
    body.write_key = creds.write_key;
    body.anonymous_id = anonId();
    var call = { name: name, path: "/tracker/v1/" + name, body: JSON.stringify(body) };
    last = new Promise(function (resolve) {
      call.resolve = resolve;
      pending.push(call);
      pump();
    });
    return last;
  }

  // A page that is going away cannot wait for the queue: hand every unsent call to the browser.
  window.addEventListener("pagehide", function () {
    while (pending.length) {
      var call = pending.shift();
      var beaconed = false;
      try { beaconed = navigator.sendBeacon(origin + call.path, call.body); } catch (e) { /* */ }
      if (!beaconed) send(call);
      call.resolve(null);
    }
  });

  var Tracker = {
    emulator: true,
    origin: origin,
    identify: function (id, attributes) {
      return enqueue("identify", {
        id: typeof id === "number" ? String(id) : id,
        attributes: attributes || {}
      });
    },
    track: function (event, properties) {
      return enqueue("track", { event: event, properties: properties || {} });
    },
    page: function (properties) {
      var base = { url: location.href, path: location.pathname, title: document.title,
        referrer: document.referrer };
      return enqueue("page", { properties: Object.assign(base, properties || {}) });
    },
    getAnonId: function () {
      return Promise.resolve(anonId());
    },
    flush: function () {
      return last.then(function () {});
    }
  };

  var Logger = {
    debug: function () { console.debug.apply(console, arguments); },
    info: function () { console.info.apply(console, arguments); },
    warn: function () { console.warn.apply(console, arguments); },
    error: function () { console.error.apply(console, arguments); }
  };

  function route(item) {
    if (!item || typeof item.length !== "number" || typeof Tracker[item[0]] !== "function" ||
        item[0] === "flush" || item[0] === "getAnonId") {
      warn("ignored queued call " + JSON.stringify(item) +
        "; push [name, ...arguments] with name identify, track or page.");
      return;
    }
    Tracker[item[0]].apply(Tracker, Array.prototype.slice.call(item, 1));
  }

  var queued = Array.isArray(W) ? W.splice(0, W.length) : [];
  W.Tracker = Tracker;
  W.push = function () {
    for (var i = 0; i < arguments.length; i++) route(arguments[i]);
    return 0;
  };
  for (var i = 0; i < queued.length; i++) route(queued[i]);
  W.Logger = Logger; // last: Segment's integration treats Logger as "loaded"
})(window, document);
