/*
 * The chat widget: one <script> tag puts it on any page.
 *
 *   <script src="http://localhost:8080/widget.js" data-port="5005"></script>
 *
 * Attributes: data-server (the bot's URL, e.g. https://bot.example.com) or
 * data-port (the bot on this page's host), data-title, data-open="true".
 * It talks to Rasa's socket.io channel with session persistence: the session
 * id is kept in localStorage, so a reload or a second tab continues the same
 * conversation. Everything users or the bot typed is shown as text, never as HTML.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var assets = new URL(".", script.src).href;
  var server = script.getAttribute("data-server") ||
    (location.protocol + "//" + location.hostname + ":" + (script.getAttribute("data-port") || "5005"));
  var title = script.getAttribute("data-title") || "拼多多智能客服";
  var startOpen = script.getAttribute("data-open") === "true";
  var storageKey = "triage-bot-session:" + server;
  var TEXT = {
    launcher: "在线客服",
    placeholder: "请输入您的问题…",
    send: "发送",
    typing: "客服正在输入…",
    connecting: "正在连接客服…",
    offline: "暂时连接不上客服，正在自动重试，请稍候…",
    close: "收起"
  };
  var URL_PATTERN = /(https?:\/\/[^\s<>"'，。！？；）)\]]+)/g;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // Text with its http(s) links made clickable; no HTML is ever interpreted.
  function richText(value) {
    var text = String(value || "");
    var fragment = document.createDocumentFragment();
    var last = 0;
    text.replace(URL_PATTERN, function (url, _match, offset) {
      fragment.appendChild(document.createTextNode(text.slice(last, offset)));
      var link = element("a", "tb-link", url);
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      fragment.appendChild(link);
      last = offset + url.length;
      return url;
    });
    fragment.appendChild(document.createTextNode(text.slice(last)));
    return fragment;
  }

  // The server sends the bot's text as Markdown for widgets that render it
  // (bot/channels/markdown.py): lines end in a hard break ("  \n"), markup
  // characters are backslash-escaped, "&", "<" and indentation are character
  // references. This widget shows text as text, so it takes all that off again.
  var MARKDOWN_ESCAPE = /\\([\\`*_\[\]~|#>+\-.)])|&(amp|lt|#\d+);/g;
  function plainText(markdown) {
    return String(markdown || "").replace(/ {2}\n/g, "\n").replace(MARKDOWN_ESCAPE, function (_all, escaped, reference) {
      if (escaped) { return escaped; }
      if (reference === "amp") { return "&"; }
      if (reference === "lt") { return "<"; }
      return String.fromCharCode(Number(reference.slice(1)));
    });
  }

  function loadScript(src, onload) {
    var tag = document.createElement("script");
    tag.src = src;
    tag.onload = onload;
    tag.onerror = function () { ui.setStatus(TEXT.offline); };
    document.head.appendChild(tag);
  }

  function loadStyle(href) {
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    document.head.appendChild(link);
  }

  function buildUi() {
    var root = element("div", "tb-root");
    var launcher = element("button", "tb-launcher", TEXT.launcher);
    launcher.type = "button";
    var panel = element("section", "tb-panel");
    panel.setAttribute("aria-label", title);
    var header = element("header", "tb-header");
    header.appendChild(element("span", "tb-title", title));
    var close = element("button", "tb-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", TEXT.close);
    header.appendChild(close);
    var status = element("div", "tb-status", TEXT.connecting);
    var messages = element("div", "tb-messages");
    messages.setAttribute("role", "log");
    messages.setAttribute("aria-live", "polite");
    var typing = element("div", "tb-typing", TEXT.typing);
    typing.hidden = true;
    var form = element("form", "tb-form");
    var input = element("input", "tb-input");
    input.type = "text";
    input.placeholder = TEXT.placeholder;
    input.maxLength = 2000;
    input.setAttribute("aria-label", TEXT.placeholder);
    var send = element("button", "tb-send", TEXT.send);
    send.type = "submit";
    form.appendChild(input);
    form.appendChild(send);
    panel.appendChild(header);
    panel.appendChild(status);
    panel.appendChild(messages);
    panel.appendChild(typing);
    panel.appendChild(form);
    root.appendChild(panel);
    root.appendChild(launcher);
    document.body.appendChild(root);

    var typingTimer = null;
    var api = {
      open: function () { root.classList.add("tb-open"); input.focus(); },
      close: function () { root.classList.remove("tb-open"); },
      setStatus: function (text) { status.textContent = text || ""; status.hidden = !text; },
      setEnabled: function (enabled) { input.disabled = !enabled; send.disabled = !enabled; },
      clear: function () { messages.textContent = ""; },
      showTyping: function (shown) {
        typing.hidden = !shown;
        clearTimeout(typingTimer);
        // An answer normally comes within a second; never leave it spinning.
        if (shown) { typingTimer = setTimeout(function () { typing.hidden = true; }, 15000); }
      },
      add: function (sender, text, buttons) {
        var bubble = element("div", "tb-message tb-" + sender);
        bubble.appendChild(richText(text));
        if (buttons && buttons.length) {
          var row = element("div", "tb-buttons");
          buttons.forEach(function (button) {
            var choice = element("button", "tb-choice", button.title);
            choice.type = "button";
            choice.addEventListener("click", function () { api.onChoice(button); });
            row.appendChild(choice);
          });
          bubble.appendChild(row);
        }
        messages.appendChild(bubble);
        messages.scrollTop = messages.scrollHeight;
      },
      onChoice: function () {},
      onSend: function () {}
    };
    launcher.addEventListener("click", api.open);
    close.addEventListener("click", api.close);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) { return; }
      input.value = "";
      api.onSend(text);
    });
    return api;
  }

  var ui = null;

  function connect() {
    var socket = window.io(server, { path: "/socket.io", transports: ["websocket", "polling"], reconnection: true });
    var sessionId = null;

    function say(text, shownAs) {
      if (!socket.connected || !sessionId) { ui.setStatus(TEXT.offline); return; }
      ui.add("user", shownAs || text);
      ui.showTyping(true);
      socket.emit("user_uttered", { message: text, session_id: sessionId, title: shownAs || null });
    }

    ui.onSend = function (text) { say(text); };
    ui.onChoice = function (button) { say(button.payload, button.title); };

    socket.on("connect", function () {
      ui.setStatus("");
      ui.setEnabled(true);
      // shows_user_echo: this page shows the other tabs' messages (user_uttered) as the user's own.
      socket.emit("session_request", { session_id: localStorage.getItem(storageKey), shows_user_echo: true });
    });
    socket.on("session_confirm", function (id) {
      sessionId = typeof id === "string" ? id : (id && id.session_id);
      localStorage.setItem(storageKey, sessionId);
    });
    socket.on("session_history", function (history) {
      ui.clear();
      (history || []).forEach(function (item) { ui.add(item.sender, item.text, item.buttons); });
    });
    socket.on("bot_uttered", function (message) {
      ui.showTyping(false);
      var buttons = (message.quick_replies || message.buttons || []).map(function (button) {
        return { title: button.title, payload: button.payload };
      });
      ui.add("bot", plainText(message.text), buttons);
    });
    // What this conversation's other tabs send.
    socket.on("user_uttered", function (message) { ui.add("user", message.title || message.text); });
    socket.on("disconnect", function () { ui.setStatus(TEXT.offline); ui.setEnabled(false); ui.showTyping(false); });
    socket.on("connect_error", function () { ui.setStatus(TEXT.offline); ui.setEnabled(false); });
  }

  function start() {
    ui = buildUi();
    ui.setEnabled(false);
    if (startOpen) { ui.open(); }
    loadStyle(assets + "widget.css");
    loadScript(assets + "vendor/socket.io.min.js", connect);
  }

  if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }
})();
