/* wishpond-emulator connect.js: Wishpond.Tracker for pages, sending to the emulator that served it.
   Calls go one at a time, in order, each with a message_id of its own. One that fails (network
   error, 5xx, 429) is sent again after a capped, jittered backoff until it lands, and every call
   not yet acknowledged waits in localStorage, so the next page load sends it on. */
(function (window, document) {
  "use strict";

  var W = window.Wishpond = window.Wishpond || {};
  if (W.Tracker && W.Tracker.emulator) return; // loaded twice: the first copy already routes calls

  var STORAGE_KEY = "wishpond_anonymous_id";
  var COOKIE_MAX_AGE = 63072000; // two years, in seconds
  var KEEPALIVE_LIMIT = 60000; // browsers refuse keepalive bodies past 64 KiB in flight
  var RETRY_FIRST = 250; // ms: the first retry waits about this long, each later one twice as long
  var RETRY_CAP = 30000; // ms: the longest backoff
  var RETRY_AFTER_CAP = 300000; // ms: the longest Retry-After honoured

  var script = ownScript();
  var src = new URL(script ? script.src : "/connect.js", document.baseURI);
  var origin = src.origin;
  var QUEUE_PREFIX = "wishpond_queue:" + origin + ":"; // then a sortable stamp and the message id
  var queue = []; // calls not yet acknowledged, oldest first; queue[0] is being delivered
  var inFlight = false; // queue[0] has a request on the wire (not waiting to retry)
  var last = Promise.resolve(); // settles once the newest call (and so every call) has
  var failing = false; // a run of failed attempts, warned about once
  var anonymousId = null;
  var made = 0;
  var storage = openStorage();

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

  function openStorage() {
    try {
      var s = window.localStorage; // reading it throws where storage is blocked
      s.setItem(QUEUE_PREFIX, "");
      s.removeItem(QUEUE_PREFIX);
      return s;
    } catch (e) {
      return null; // calls then wait in memory only, and are lost with the page
    }
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

  // -- the queue, kept in localStorage: one item per call, so tabs never overwrite each other --

  function keep(call) {
    if (!storage) return;
    try {
      storage.setItem(call.key, JSON.stringify({ name: call.name, path: call.path, body: call.body }));
      call.kept = true;
    } catch (e) { /* full: this call waits in memory only */ }
  }

  function forget(call) {
    if (!storage) return;
    try { storage.removeItem(call.key); } catch (e) { /* */ }
  }

  function leftOver() {
    var keys = [], calls = [];
    if (!storage) return calls;
    try {
      for (var i = 0; i < storage.length; i++) {
        var key = storage.key(i);
        if (key && key.indexOf(QUEUE_PREFIX) === 0 && key !== QUEUE_PREFIX) keys.push(key);
      }
      keys.sort(); // the stamps sort as the calls were made
      for (var j = 0; j < keys.length; j++) {
        var saved = null;
        try { saved = JSON.parse(storage.getItem(keys[j])); } catch (e) { /* not ours */ }
        if (saved && typeof saved.path === "string" && typeof saved.body === "string") {
          calls.push({ key: keys[j], name: saved.name, path: saved.path, body: saved.body, kept: true });
        } else {
          storage.removeItem(keys[j]);
        }
      }
    } catch (e) { /* storage went away: send what was read */ }
    return calls;
  }

  function stamp(messageId) {
    var count = String(made++ % 1000000);
    return QUEUE_PREFIX + String(Date.now()).padStart(15, "0") + "." +
      "000000".slice(count.length) + count + "." + messageId;
  }

  // -- delivery: one call at a time, each until it lands or is rejected --

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

  function post(call, keepalive) {
    return fetch(origin + call.path, {
      method: "POST",
      // text/plain keeps this a simple request: no CORS preflight, and the same as sendBeacon.
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: call.body,
      credentials: "omit",
      keepalive: keepalive
    });
  }

  function retryAfter(response) {
    var value = response.headers.get("Retry-After");
    if (!value) return null;
    var ms = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
    return isFinite(ms) ? Math.min(Math.max(ms, 0), RETRY_AFTER_CAP) : null;
  }

  function backoff(tries) {
    var ceiling = Math.min(RETRY_CAP, RETRY_FIRST * Math.pow(2, tries - 1));
    return ceiling / 2 + Math.random() * ceiling / 2; // jitter: clients that failed together spread
  }

  // Resolve with {answer} when the call landed or was refused for good, or {retry, wait}.
  function attempt(call) {
    // The limit is in bytes: measure UTF-8, not UTF-16 code units.
    return post(call, new Blob([call.body]).size < KEEPALIVE_LIMIT).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (answer) {
        if (response.ok) return { answer: answer };
        if (response.status === 429 || response.status >= 500) {
          return { retry: origin + " answered HTTP " + response.status + " to " + call.name,
            wait: retryAfter(response) };
        }
        warn(describe(call, response.status, answer && answer.error));
        return { answer: answer };
      });
    }, function (err) {
      return { retry: "could not reach " + origin + call.path + " (" + err + ")", wait: null };
    });
  }

  function deliver(call) {
    inFlight = true;
    return attempt(call).then(function (result) {
      inFlight = false;
      if (!result.retry) {
        failing = false;
        return result.answer;
      }
      if (!failing) warn(result.retry + "; retrying until it lands.");
      failing = true;
      call.tries = (call.tries || 0) + 1;
      var wait = result.wait === null ? backoff(call.tries) : result.wait;
      return new Promise(function (resolve) { setTimeout(resolve, wait); }).then(function () {
        return deliver(call);
      });
    });
  }

  function pump() {
    if (!queue.length || queue[0].started) return;
    var call = queue[0];
    call.started = true;
    deliver(call).then(function (answer) {
      forget(call);
      queue.shift();
      call.resolve(answer);
      pump();
    });
  }

  function add(call) {
    var settled = new Promise(function (resolve) { call.resolve = resolve; });
    queue.push(call);
    last = settled;
    pump();
    return settled;
  }

  function enqueue(name, body) {
    var creds = credentials();
    body.merchant_id = creds.merchant_id;
    body.write_key = creds.write_key;
    body.anonymous_id = anonId();
    body.message_id = newId();
    var call = { key: stamp(body.message_id), name: name, path: "/tracker/v1/" + name,
      body: JSON.stringify(body) };
    keep(call);
    return add(call);
  }

  // A page going away cannot wait for its turn: while the emulator answers, hand the browser a
  // copy of every call not on the wire (copies may land out of order; each stays stored, and
  // the emulator applies each message_id once). While calls are failing, stored ones wait for
  // the next page, which sends them in order.
  window.addEventListener("pagehide", function () {
    for (var i = inFlight ? 1 : 0; i < queue.length; i++) {
      var call = queue[i], beaconed = false;
      if (failing && call.kept) continue;
      try { beaconed = navigator.sendBeacon(origin + call.path, call.body); } catch (e) { /* */ }
      if (!beaconed) post(call, true).catch(function () {});
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
    // Calls are delivered in order, so the newest one settling means every one has.
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

  var earlier = leftOver(); // what an earlier page left unacknowledged goes first
  for (var k = 0; k < earlier.length; k++) add(earlier[k]);
  var queued = Array.isArray(W) ? W.splice(0, W.length) : [];
  W.Tracker = Tracker;
  W.push = function () {
    for (var i = 0; i < arguments.length; i++) route(arguments[i]);
    return 0;
  };
  for (var i = 0; i < queued.length; i++) route(queued[i]);
  W.Logger = Logger; // last: Segment's integration treats Logger as "loaded"
})(window, document);
