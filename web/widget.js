/* The embeddable chat widget: one <script> tag on a clinic's page adds a chat button; clicking it opens
 * a compact chat panel.
 *
 *   <script src="https://chat.example-clinic.org/widget.js" defer
 *           data-title="Ask about acupuncture" data-greeting="Hi! ..." data-accent="#0f766e"
 *           data-position="left" data-open="true"></script>
 *
 * The button lives in a shadow root whose :host resets every inherited style, so the clinic's CSS does
 * not reach it and its CSS does not reach the clinic's page. The panel is an iframe of /embed on the
 * chat server: the conversation happens in that page, out of reach of the host page's scripts, and the
 * server's frame-ancestors policy decides which sites may show it. Before it shows the button the script asks
 * the server one question, GET /widget.json (no cookies, no referrer): may this site show the chat, and under
 * what title? On a site missing from [widget] allowed_origins the answer is unreadable (CORS), so no button
 * appears and the console names the setting; otherwise the button's tooltip and the panel say the same title.
 * Nothing is stored: no cookies, no storage, and nothing else is loaded until the visitor opens the chat (or
 * data-open asks for it).
 *
 * Left out: a build step (this file is served as is), and talking to /api/ask from the host page.
 */
(function () {
  "use strict";

  // currentScript is null when a page loader runs the script in some other way: then find the tag by name.
  var script = document.currentScript || document.querySelector("script[src*='/widget.js']");
  // Loaded twice (two tags, or a page that re-runs its scripts): one button is enough.
  if (!script || document.querySelector("[data-qa-chat-widget]")) return;

  var FRAME_URL = new URL("embed", script.src);
  var CHECK_URL = new URL("widget.json", script.src);
  var APP_ORIGIN = FRAME_URL.origin;
  var DEFAULT_ACCENT = "#2563eb";
  var MESSAGE = "qa-widget"; // tag of the messages exchanged with the panel
  var READY_GRACE_MS = 2500; // after the frame loads, how long to wait for the panel to say it is ready

  function option(name, fallback, maxLength) {
    var value = (script.getAttribute("data-" + name) || "").trim();
    return value ? value.slice(0, maxLength) : fallback;
  }

  var customTitle = option("title", "", 80); // else the clinic's name from clinic.toml, as the panel shows it
  var title = customTitle || "Questions about acupuncture"; // until the server has said its name
  var greeting = option("greeting", "", 300);
  var position = option("position", "right", 5).toLowerCase() === "left" ? "left" : "right";
  var openAttribute = script.getAttribute("data-open"); // data-open, data-open="true"; absent or "false": closed
  var openOnLoad = openAttribute !== null && /^(|true|1|yes)$/i.test(openAttribute.trim());
  var accent = validColour(option("accent", DEFAULT_ACCENT, 40)) || DEFAULT_ACCENT;

  function validColour(value) {
    return window.CSS && CSS.supports && CSS.supports("color", value) ? value : null;
  }

  var CHAT_ICON = "M21 11.5a8.4 8.4 0 0 1-.9 3.8 8.5 8.5 0 0 1-7.6 4.7 8.4 8.4 0 0 1-3.8-.9L3 21l1.9-5.7a8.4 8.4 0 0 1-.9-3.8 " +
    "8.5 8.5 0 0 1 4.7-7.6 8.4 8.4 0 0 1 3.8-.9h.5a8.5 8.5 0 0 1 8 8v.5z";
  var CLOSE_ICON = "M6 6l12 12M18 6L6 18";

  var CSS_TEXT = [
    ":host { all: initial !important; }",
    "* { box-sizing: border-box; }",
    ".bubble, .panel { position: fixed; z-index: 2147483000; font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }",
    ".bubble { bottom: 20px; width: 60px; height: 60px; padding: 0; margin: 0; border: 0; border-radius: 50%;",
    "  display: flex; align-items: center; justify-content: center; cursor: pointer;",
    "  background: var(--accent); color: var(--on-accent);",
    "  box-shadow: 0 6px 18px rgba(15, 23, 42, 0.28), 0 1px 3px rgba(15, 23, 42, 0.2);",
    "  transition: transform 0.15s ease, box-shadow 0.15s ease; -webkit-tap-highlight-color: transparent; }",
    ".bubble:hover { transform: translateY(-2px); box-shadow: 0 10px 24px rgba(15, 23, 42, 0.32), 0 2px 4px rgba(15, 23, 42, 0.2); }",
    ".bubble:focus { outline: none; }",
    ".bubble:focus-visible { outline: 3px solid var(--accent); outline-offset: 3px; box-shadow: 0 0 0 3px #fff, 0 6px 18px rgba(15, 23, 42, 0.28); }",
    ".bubble svg { width: 28px; height: 28px; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }",
    ".right { right: 20px; } .left { left: 20px; }",
    ".panel { bottom: 92px; width: 400px; height: min(640px, calc(100vh - 112px)); max-width: calc(100vw - 40px);",
    "  background: #fff; color: #1f2937; border-radius: 16px; overflow: hidden;",
    "  box-shadow: 0 18px 50px rgba(15, 23, 42, 0.3), 0 2px 6px rgba(15, 23, 42, 0.15);",
    "  animation: rise 0.18s ease-out; }",
    ".panel[hidden] { display: none; }",
    ".panel iframe { display: block; width: 100%; height: 100%; border: 0; background: #fff; }",
    ".notice { display: flex; flex-direction: column; justify-content: center; gap: 12px; height: 100%; padding: 28px; text-align: center; }",
    ".notice p { margin: 0; } .notice button { align-self: center; font: inherit; padding: 8px 18px; border-radius: 8px;",
    "  border: 1px solid #cbd5e1; background: #fff; color: #1f2937; cursor: pointer; }",
    ".notice button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }",
    "@keyframes rise { from { opacity: 0; transform: translateY(12px); } to { opacity: 1; transform: none; } }",
    "@media (prefers-reduced-motion: reduce) { .panel { animation: none; } .bubble { transition: none; } .bubble:hover { transform: none; } }",
    // A phone: the panel takes the whole screen and has its own close button; the bubble waits underneath.
    "@media (max-width: 480px) {",
    "  .panel { inset: 0; width: 100%; max-width: none; height: 100%; border-radius: 0; }",
    "  .bubble { bottom: 16px; } .right { right: 16px; } .left { left: 16px; }",
    "  .open .bubble { display: none; }",
    "}"
  ].join("\n");

  function svg(path) {
    var ns = "http://www.w3.org/2000/svg";
    var icon = document.createElementNS(ns, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    icon.setAttribute("focusable", "false");
    var line = document.createElementNS(ns, "path");
    line.setAttribute("d", path);
    icon.appendChild(line);
    return icon;
  }

  /* The text colour that reads best on the accent: black or white, whichever has the higher contrast ratio
   * (WCAG 2.1) with the accent's luminance; #111827's luminance is 0.0092. */
  function contrastingText(colour, probe) {
    probe.style.color = colour;
    var rgb = (getComputedStyle(probe).color.match(/[\d.]+/g) || [0, 0, 0]).slice(0, 3).map(function (c) {
      c = Number(c) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    probe.style.color = "";
    return (luminance + 0.05) / (0.0092 + 0.05) > 1.05 / (luminance + 0.05) ? "#111827" : "#ffffff";
  }

  var host = document.createElement("div");
  host.setAttribute("data-qa-chat-widget", "");
  var root = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in root && window.CSSStyleSheet && "replaceSync" in CSSStyleSheet.prototype) {
    // A constructed sheet: not an inline style, so a strict Content-Security-Policy on the host page allows it.
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS_TEXT);
    root.adoptedStyleSheets = [sheet];
  } else {
    var style = document.createElement("style");
    style.textContent = CSS_TEXT;
    root.appendChild(style);
  }

  var wrapper = document.createElement("div");
  var bubble = document.createElement("button");
  bubble.type = "button";
  bubble.className = "bubble " + position;
  bubble.setAttribute("aria-haspopup", "dialog");
  bubble.setAttribute("aria-controls", "qa-panel");
  bubble.setAttribute("aria-expanded", "false");

  var panel = document.createElement("div");
  panel.id = "qa-panel";
  panel.className = "panel " + position;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  panel.hidden = true;

  wrapper.appendChild(bubble);
  wrapper.appendChild(panel); // after the button: Tab goes from the button into the open panel
  root.appendChild(wrapper);

  var frame = null;
  var ready = false;
  var focusWhenReady = false;
  var readyTimer = null;

  function showBubble(open) {
    bubble.textContent = "";
    bubble.appendChild(svg(open ? CLOSE_ICON : CHAT_ICON));
    bubble.setAttribute("aria-label", open ? "Close chat" : "Open chat: " + title);
    bubble.title = open ? "Close chat" : title;
    bubble.setAttribute("aria-expanded", open ? "true" : "false");
    wrapper.className = open ? "open" : "";
  }

  function createFrame() {
    var params = new URLSearchParams({ accent: accent });
    if (customTitle) params.set("title", customTitle);
    if (greeting) params.set("greeting", greeting);
    frame = document.createElement("iframe");
    frame.title = "Chat: " + title;
    frame.src = FRAME_URL.href + "?" + params.toString();
    frame.referrerPolicy = "no-referrer"; // the chat server has no need to know which page it is on
    // The panel needs scripts, its own origin (to call the API) and new tabs for source links; it may not
    // navigate the clinic's page.
    frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox");
    frame.addEventListener("load", function () {
      // A site missing from allowed_origins gets the browser's "refused to connect" page, which never says ready.
      clearTimeout(readyTimer);
      if (!ready) readyTimer = setTimeout(unavailable, READY_GRACE_MS);
    });
    panel.appendChild(frame);
  }

  function unavailable() {
    if (ready || !frame) return;
    console.warn("Chat widget: the chat at " + APP_ORIGIN + " did not load in this page. If the server is running, add " +
      location.origin + " to [widget] allowed_origins in its clinic.toml and restart it.");
    panel.removeChild(frame);
    frame = null;
    var notice = document.createElement("div");
    notice.className = "notice";
    notice.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.textContent = "Sorry, the chat is not available on this page right now.";
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "Close";
    close.addEventListener("click", function () { closePanel(); });
    notice.appendChild(text);
    notice.appendChild(close);
    panel.appendChild(notice);
    if (!panel.hidden) close.focus();
  }

  function focusPanel() {
    if (!frame || !ready) {
      focusWhenReady = true;
      var button = panel.querySelector("button");
      if (button) button.focus();
      return;
    }
    frame.focus();
    frame.contentWindow.postMessage({ type: MESSAGE, action: "focus" }, APP_ORIGIN);
  }

  function openPanel(moveFocus) {
    if (!frame && !panel.firstChild) createFrame();
    panel.hidden = false;
    showBubble(true);
    if (moveFocus) focusPanel();
  }

  function closePanel() {
    if (panel.hidden) return;
    panel.hidden = true;
    focusWhenReady = false;
    showBubble(false);
    bubble.focus();
  }

  bubble.addEventListener("click", function () {
    if (panel.hidden) openPanel(true); else closePanel();
  });
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) {
      event.stopPropagation();
      closePanel();
    }
  });
  window.addEventListener("message", function (event) {
    // Only our own panel, in our own frame, may close it.
    if (!frame || event.source !== frame.contentWindow || event.origin !== APP_ORIGIN) return;
    var data = event.data;
    if (!data || data.type !== MESSAGE) return;
    if (data.action === "ready") {
      ready = true;
      clearTimeout(readyTimer);
      if (focusWhenReady && !panel.hidden) {
        focusWhenReady = false;
        focusPanel();
      }
    } else if (data.action === "close") {
      closePanel();
    }
  });

  function allowedHere() {
    // Resolves with the server's answer, or rejects: not allowed here (unreadable), not running, or no fetch at all.
    if (!window.fetch) return Promise.reject(new Error("this browser cannot ask the chat server"));
    return fetch(CHECK_URL.href, { credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("the chat server answered " + response.status);
        return response.json();
      });
  }

  function mount() {
    allowedHere().then(function (info) {
      if (!customTitle && info && typeof info.title === "string" && info.title.trim()) title = info.title.trim().slice(0, 80);
      panel.setAttribute("aria-label", title);
      show();
    }, function (error) {
      console.warn("Chat widget: not shown on this page. The chat at " + APP_ORIGIN + " does not allow " + location.origin +
        ", or is not running (" + error.message + "). To allow it, add \"" + location.origin +
        "\" to [widget] allowed_origins in the chat server's clinic.toml and restart the server.");
    });
  }

  function show() {
    document.body.appendChild(host);
    wrapper.style.setProperty("--accent", accent);
    wrapper.style.setProperty("--on-accent", contrastingText(accent, bubble));
    showBubble(false);
    // Opening on load never takes the visitor's focus, and on a phone it would cover the whole page.
    if (openOnLoad && !window.matchMedia("(max-width: 480px)").matches) openPanel(false);
  }

  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
