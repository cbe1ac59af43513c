/* The compact chat page inside the widget's iframe (app.py serves it at /embed; it also works on its own).
 *
 * Questions go to POST /api/ask on this server, and the answer object that comes back is built into the
 * page with DOM calls and textContent only, never innerHTML: nothing in a question, a source or a setting
 * can become markup or script. Everything shown comes from the object's fields, in this order: the safety
 * message, the notes (plain text), the message, the passages with their sources, the disclaimer. The
 * safety message and the message are Markdown from qa/compose.py, read by a small reader of the marks it
 * writes: **bold**, _italic_, [links](https://...), bare http(s) links, backslash escapes. answer_markdown
 * is never read for display (it only goes back to the server as the conversation's history), so the way
 * Python words an answer cannot change what the widget shows.
 *
 * The conversation lives in this page's memory and ends with it: no cookies, no storage.
 * Options come from widget.js in the query string: the accent (a colour) is read here; the title and the
 * greeting come back from the server in the config, which puts them there only when this page is loaded into
 * a frame (server/widget.py), so a link to /embed cannot make the clinic's address show someone else's words.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("qa-config").textContent);
  var params = new URLSearchParams(location.search);
  var embedded = window.parent !== window;
  var MESSAGE = "qa-widget"; // tag of the messages exchanged with widget.js
  var HISTORY_MESSAGES = 6; // the last three questions and answers go with each question
  var HISTORY_CHARS = 1500; // per message: the server reads the visitor's turns; whole answers add nothing
  var SAFETY_LEVELS = ["emergency", "urgent", "crisis"];
  var MAX_SUGGESTIONS = 3; // follow-up questions shown under an answer
  var NOT_AVAILABLE = "Sorry, the chat is not available right now. Please try again in a few minutes.";

  var log = byId("qa-log");
  var form = byId("qa-form");
  var input = byId("qa-question");
  var sendButton = byId("qa-send");
  var history = [];
  var pending = false;
  var suggestionGroups = 0;

  function byId(id) {
    return document.getElementById(id);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function param(name, maxLength) {
    return text(params.get(name), maxLength);
  }

  function text(value, maxLength) {
    return (typeof value === "string" ? value : "").trim().slice(0, maxLength);
  }

  function hiddenLabel(text) {
    return el("span", "qa-visually-hidden", text);
  }

  // --- the few Markdown marks of qa's messages, read safely ------------------------------------------

  var ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": "\"", "&#x27;": "'", "&#39;": "'" };
  // \x escape | **bold** | [text](link) | bare http(s) link | _italic_
  var INLINE = /\\([^\sA-Za-z0-9])|\*\*((?:\\.|[^\\*])+)\*\*|\[((?:\\.|[^\\\]])+)\]\(([^()\s]+)\)|(https?:\/\/[^\s<>"'()]*[^\s<>"'().,;:!?])|_((?:\\.|[^\\_\s])(?:(?:\\.|[^\\_])*(?:\\.|[^\\_\s]))?)_(?![A-Za-z0-9])/;
  var WORD_CHARACTER = /[A-Za-z0-9]/;

  /* Text as the reader sees it: qa escapes &, <, >, quotes as HTML entities before they reach the Markdown. */
  function plain(text) {
    return text.replace(/&(?:amp|lt|gt|quot|#x27|#39);/g, function (entity) { return ENTITIES[entity]; });
  }

  /* Only http(s) links are followed; anything else (javascript:, data:) is shown as text or dropped. */
  function safeUrl(url) {
    if (typeof url !== "string" || !/^https?:\/\/[^\s<>"'`]+$/i.test(url)) return null;
    try {
      return new URL(url).href;
    } catch (error) {
      return null;
    }
  }

  function linkTo(url) {
    var a = el("a");
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function appendInline(parent, markdown) {
    var pattern = new RegExp(INLINE.source, "g"); // one per call: the reader calls itself for bold and link text
    var buffer = "";
    var last = 0;
    var match;
    function flush() {
      if (buffer) parent.appendChild(document.createTextNode(plain(buffer)));
      buffer = "";
    }
    while ((match = pattern.exec(markdown))) {
      buffer += markdown.slice(last, match.index);
      last = pattern.lastIndex;
      if (match[1] !== undefined) {
        buffer += match[1];
        continue;
      }
      if (match[6] !== undefined && match.index > 0 && WORD_CHARACTER.test(markdown.charAt(match.index - 1))) {
        buffer += "_"; // inside a word (snake_case) an underscore is a letter, as in Markdown
        last = pattern.lastIndex = match.index + 1;
        continue;
      }
      flush();
      if (match[2] !== undefined) {
        var strong = el("strong");
        appendInline(strong, match[2]);
        parent.appendChild(strong);
      } else if (match[3] !== undefined) {
        var href = safeUrl(plain(match[4]));
        var target = href ? linkTo(href) : el("span");
        appendInline(target, match[3]);
        parent.appendChild(target);
      } else if (match[6] !== undefined) {
        var em = el("em");
        appendInline(em, match[6]);
        parent.appendChild(em);
      } else {
        var bare = safeUrl(match[5]);
        if (bare) {
          var a = linkTo(bare);
          a.textContent = match[5];
          parent.appendChild(a);
        } else {
          buffer += match[5];
        }
      }
    }
    buffer += markdown.slice(last);
    flush();
  }

  function paragraph(markdown, className) {
    var p = el("p", className);
    appendInline(p, markdown);
    return p;
  }

  /* A Markdown string as paragraphs: blank lines part them, a single line break is a space. */
  function paragraphs(markdown) {
    return String(markdown).split(/\n[ \t]*\n/).map(function (block) {
      return block.replace(/\s*\n\s*/g, " ").trim();
    }).filter(Boolean);
  }

  function strings(list) {
    return Array.isArray(list) ? list.filter(function (item) { return typeof item === "string" && item.trim(); }) : [];
  }

  // --- answers ------------------------------------------------------------------------------------

  function quote(passage, number) {
    var block = el("blockquote", "qa-quote");
    var text = typeof passage.text === "string" ? passage.text : "";
    var highlight = typeof passage.highlight === "string" ? passage.highlight : "";
    var at = highlight ? text.indexOf(highlight) : -1;
    if (at >= 0) { // the sentence that answers, in bold, as on the chat page
      block.appendChild(document.createTextNode(text.slice(0, at)));
      block.appendChild(el("strong", null, highlight));
      block.appendChild(document.createTextNode(text.slice(at + highlight.length)));
    } else {
      block.appendChild(document.createTextNode(text));
    }
    block.appendChild(document.createTextNode(" "));
    block.appendChild(el("span", "qa-ref", "[" + number + "]"));
    return block;
  }

  function titleOf(source) {
    var url = safeUrl(source.url);
    var title = url ? linkTo(url) : el("cite");
    title.textContent = String(source.title || source.source_id || "Untitled article");
    return title;
  }

  function sourceList(passages) {
    var box = el("div", "qa-sources");
    box.appendChild(el("p", "qa-sources-title", "Sources"));
    var list = el("ol");
    passages.forEach(function (passage) {
      var item = el("li");
      item.appendChild(titleOf(passage));
      if (passage.section) item.appendChild(document.createTextNode(", section “" + passage.section + "”"));
      var others = Array.isArray(passage.also_in) ? passage.also_in.filter(function (o) { return o && o.title; }) : [];
      if (others.length) {
        item.appendChild(document.createTextNode(". Also in: "));
        others.forEach(function (other, i) {
          if (i) item.appendChild(document.createTextNode("; "));
          item.appendChild(titleOf(other));
        });
      }
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  }

  function renderAnswer(answer) {
    var box = el("div", "qa-msg qa-answer");
    box.appendChild(hiddenLabel("Answer: "));
    var safety = answer.safety && typeof answer.safety.message === "string" ? answer.safety : null;
    if (safety) { // safety first, whatever else the answer holds
      box.classList.add("qa-safety");
      if (SAFETY_LEVELS.indexOf(safety.level) >= 0) box.classList.add("qa-safety-" + safety.level);
      box.appendChild(paragraph(paragraphs(safety.message).join(" "), "qa-alert"));
    } else if (answer.abstained) {
      box.classList.add("qa-abstained");
    }
    strings(answer.notes).forEach(function (note) { // plain text, in italic as on the chat page
      var p = el("p", "qa-lead qa-note");
      p.appendChild(el("em", null, note));
      box.appendChild(p);
    });
    paragraphs(typeof answer.message === "string" ? answer.message : "").forEach(function (markdown, i) {
      var p = paragraph(markdown, "qa-lead qa-message");
      if (i === 0 && !safety && answer.abstained) p.classList.add("qa-abstention"); // the articles do not answer
      box.appendChild(p);
    });
    var passages = Array.isArray(answer.passages) ? answer.passages.filter(Boolean) : [];
    if (passages.length) {
      box.appendChild(el("p", "qa-intro", "Here is what the articles say:"));
      passages.forEach(function (passage, i) { box.appendChild(quote(passage, i + 1)); });
      box.appendChild(sourceList(passages));
    }
    box.appendChild(el("p", "qa-disclaimer", answer.disclaimer || config.disclaimer));
    return box;
  }

  // Questions the articles answer, offered under an answer (the answer object's `suggestions`): buttons that ask
  // them, in a group a screen reader names. None under a safety message: nothing should compete with getting help.
  function suggestionChips(answer) {
    var questions = strings(answer.suggestions).slice(0, MAX_SUGGESTIONS);
    if (!questions.length || answer.safety) return null;
    var group = el("div", "qa-suggestions");
    group.setAttribute("role", "group");
    var label = el("p", "qa-suggestions-label", answer.abstained ? "Questions the articles answer:" : "You could also ask:");
    label.id = "qa-suggestions-" + (++suggestionGroups);
    group.setAttribute("aria-labelledby", label.id);
    group.appendChild(label);
    questions.forEach(function (question) {
      var button = el("button", "qa-suggestion", text(question, 200));
      button.type = "button";
      button.addEventListener("click", function () {
        if (pending) return;
        ask(question);
        input.focus();
      });
      group.appendChild(button);
    });
    return group;
  }

  function problem(response, body) {
    if (response && response.status === 429) {
      var seconds = parseInt(response.headers.get("Retry-After"), 10);
      return "You have asked a lot of questions in a short time. Please wait " +
        (seconds > 0 ? seconds + " seconds" : "a minute") + " and try again.";
    }
    if (response && response.status < 500 && body && typeof body.error === "string") return body.error;
    return NOT_AVAILABLE;
  }

  // --- the conversation ------------------------------------------------------------------------------

  function scrollToTurn(turn) {
    log.scrollTop = Math.max(0, turn.offsetTop - 12);
  }

  function ask(question) {
    question = question.trim();
    if (pending || !question) return;
    pending = true;
    sendButton.setAttribute("aria-disabled", "true");
    var turn = el("div", "qa-turn");
    var mine = el("p", "qa-msg qa-user");
    mine.appendChild(hiddenLabel("You: "));
    mine.appendChild(document.createTextNode(question));
    var waiting = el("p", "qa-msg qa-waiting", "Looking through the articles…");
    turn.appendChild(mine);
    turn.appendChild(waiting);
    log.appendChild(turn);
    scrollToTurn(turn);

    var body = JSON.stringify({ question: question, history: history.slice(-HISTORY_MESSAGES) });
    fetch("api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: body,
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer"
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.ok && data && typeof data.answer_markdown === "string") {
          turn.replaceChild(renderAnswer(data), waiting);
          var next = suggestionChips(data);
          if (next) turn.appendChild(next);
          remember(question, data.answer_markdown);
        } else {
          turn.replaceChild(el("p", "qa-msg qa-error", problem(response, data)), waiting);
        }
      });
    }).catch(function () {
      turn.replaceChild(el("p", "qa-msg qa-error", NOT_AVAILABLE), waiting);
    }).then(function () {
      pending = false;
      sendButton.removeAttribute("aria-disabled");
      scrollToTurn(turn);
    });
  }

  function remember(question, answerMarkdown) {
    history.push({ role: "user", content: question.slice(0, HISTORY_CHARS) });
    history.push({ role: "assistant", content: answerMarkdown.slice(0, HISTORY_CHARS) });
    history = history.slice(-HISTORY_MESSAGES);
  }

  function submit() {
    if (pending) return;
    var question = input.value;
    if (!question.trim()) {
      input.focus();
      return;
    }
    input.value = "";
    grow();
    ask(question);
  }

  function grow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }

  // --- the page --------------------------------------------------------------------------------------

  /* Relative luminance of a CSS colour (WCAG 2.1), read back from the browser so any syntax works. */
  function luminance(colour) {
    var probe = el("span");
    document.body.appendChild(probe);
    probe.style.color = colour;
    var rgb = (getComputedStyle(probe).color.match(/[\d.]+/g) || [0, 0, 0]).slice(0, 3).map(function (c) {
      c = Number(c) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    document.body.removeChild(probe);
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
  }

  function contrast(a, b) {
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  }

  /* The text colours that go with an accent: black or white on it, whichever contrasts more; and the
   * accent itself as link text only when it reaches 4.5:1 (WCAG AA) on the palest background links sit on,
   * the abstention's #f5f8ff (luminance 0.938); else links take the page's text colour (still underlined). */
  function accentColours(colour) {
    var accent = luminance(colour);
    return {
      onAccent: contrast(accent, luminance("#111827")) > contrast(accent, 1) ? "#111827" : "#ffffff",
      accentText: contrast(accent, 0.938) >= 4.5 ? colour : "var(--text)"
    };
  }

  function setUp() {
    var title = text(config.title, 80) || config.clinicName;
    byId("qa-title").textContent = title;
    document.title = title;
    var accent = param("accent", 40);
    if (accent && window.CSS && CSS.supports("color", accent)) {
      var colours = accentColours(accent);
      document.documentElement.style.setProperty("--accent", accent);
      document.documentElement.style.setProperty("--on-accent", colours.onAccent);
      document.documentElement.style.setProperty("--accent-text", colours.accentText);
    }

    byId("qa-greeting").textContent = text(config.greeting, 300) ||
      "Hello! Ask me about acupuncture for peripheral neuropathy. I answer by quoting a small library of articles " +
      "word for word, and I name my sources.";
    var examples = byId("qa-examples");
    (config.examples || []).forEach(function (example) {
      var button = el("button", "qa-example", example);
      button.type = "button";
      button.addEventListener("click", function () {
        ask(example);
        input.focus();
      });
      examples.appendChild(button);
    });
    var contactUrl = config.contact && safeUrl(config.contact.url);
    if (contactUrl) {
      var contact = el("p", "qa-contact", "Prefer to talk to someone? ");
      var a = linkTo(contactUrl);
      a.textContent = config.contact.label;
      contact.appendChild(a);
      byId("qa-welcome").appendChild(contact);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit();
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    input.addEventListener("input", grow);

    if (embedded) {
      var close = byId("qa-close");
      close.hidden = false;
      var tellWidget = function (action) { window.parent.postMessage({ type: MESSAGE, action: action }, "*"); };
      close.addEventListener("click", function () { tellWidget("close"); });
      document.addEventListener("keydown", function (event) {
        if (event.key === "Escape") tellWidget("close");
      });
      window.addEventListener("message", function (event) {
        if (event.source === window.parent && event.data && event.data.type === MESSAGE && event.data.action === "focus") {
          input.focus();
        }
      });
      // The messages carry no data, so any parent may receive them; widget.js checks they come from this frame.
      tellWidget("ready");
    } else {
      input.focus();
    }
  }

  setUp();
})();
