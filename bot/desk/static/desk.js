/*
 * The agent desk page (/agent/): the queue, the agent's conversations, one
 * conversation with its whole transcript, replies, transfer and closing.
 *
 * It talks to the desk's JSON API (same origin, the session cookie, the
 * CSRF token from the page's meta tag on every POST) and follows the live
 * event stream /agent/api/events (server-sent events: "queue", "message").
 * Everything a user, the bot or an agent wrote is shown with textContent:
 * nothing is ever parsed as HTML.
 */
(function () {
  "use strict";

  var CSRF = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var CHANNELS = { socketio: "网页聊天", wechat: "微信公众号", rest: "REST 接口", chatwoot: "Chatwoot" };
  var PRIORITY = { priority_complaint: "优先：重要投诉", fraud_money_lost: "优先：被骗已转账" };
  var ERRORS = {
    taken: "这个对话已经被其他客服接入了。",
    rasa_unavailable: "暂时连不上机器人服务，请稍后再试。",
    wechat_budget: "微信客服消息的额度用完了：用户再发一条消息后才能继续回复（最后一条留给结束语）。",
    not_holder: "这个对话已经不在您名下了。",
    empty_message: "请先输入回复内容。",
    unknown_agent: "请选择要转接的客服。",
    csrf: "页面已过期，请刷新后再试。",
    no_such_conversation: "找不到这个对话。"
  };
  var TEXT = {
    user: "用户",
    bot: "机器人",
    agent: "客服",
    claim: "接入",
    open: "查看",
    waited: "已等待",
    minutes: "分钟",
    justNow: "刚刚",
    order: "订单",
    noOrder: "未提供订单",
    unknownTopic: "未识别话题",
    unknownChannel: "未知渠道",
    leftMessage: "留言",
    timedOut: "已超时，已请用户留言或留号码",
    resumed: "用户已回到机器人",
    unread: "有新消息",
    ticket: "工单",
    handoffDivider: "—— 以下为转人工之后 ——",
    budget: "微信客服消息：还能发 {left} 条（48 小时内最多 {limit} 条，已为结束语留 1 条）",
    budgetClosed: "微信客服消息：已超过 48 小时，用户再发消息后才能回复",
    ended: "这个对话已经结束（已交还机器人或已转接）。",
    transferTo: "转接给…",
    confirmClose: "结束对话后，机器人会接回并请用户评分。确定结束吗？",
    connected: "实时连接正常",
    reconnecting: "实时连接中断，正在重连…",
    closed: "对话已结束，机器人已接回并请用户评分。",
    transferred: "已转接。"
  };

  var state = { me: null, agents: {}, queue: [], mine: [], current: null, seen: {}, lastId: 0, receivedAt: Date.now() };
  var ui = {
    me: document.querySelector(".dk-me"),
    status: document.querySelector(".dk-status"),
    queue: document.querySelector(".dk-queue"),
    queueEmpty: document.querySelector(".dk-queue-empty"),
    queueCount: document.querySelector(".dk-queue-count"),
    mine: document.querySelector(".dk-mine"),
    mineEmpty: document.querySelector(".dk-mine-empty"),
    mineCount: document.querySelector(".dk-mine-count"),
    conversation: document.querySelector(".dk-conversation"),
    placeholder: document.querySelector(".dk-placeholder"),
    title: document.querySelector(".dk-conv-title"),
    facts: document.querySelector(".dk-conv-facts"),
    budget: document.querySelector(".dk-budget"),
    transcript: document.querySelector(".dk-transcript"),
    notice: document.querySelector(".dk-notice"),
    composer: document.querySelector(".dk-composer"),
    input: document.querySelector(".dk-input"),
    send: document.querySelector(".dk-send"),
    close: document.querySelector(".dk-close"),
    transfer: document.querySelector(".dk-transfer"),
    transferTo: document.querySelector(".dk-transfer-to"),
    logout: document.querySelector(".dk-logout")
  };

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return String(values[key]); });
  }

  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: {} };
    if (method !== "GET") { options.headers["X-CSRF-Token"] = CSRF; }
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch("/agent/api/" + path, options).then(function (response) {
      if (response.status === 401) { location.href = "/agent/login"; throw new Error("login_required"); }
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { var error = new Error(data.error || "http_" + response.status); error.data = data; throw error; }
        return data;
      });
    });
  }

  function showError(error) {
    showNotice(ERRORS[error.message] || ERRORS.rasa_unavailable);
  }

  function showNotice(text) {
    ui.notice.textContent = text || "";
    ui.notice.hidden = !text;
  }

  function agentName(id) {
    return (state.agents[id] && state.agents[id].name) || id;
  }

  // --- the lists -------------------------------------------------------------

  function waitedText(entry) {
    var seconds = entry.waited_seconds + Math.floor((Date.now() - state.receivedAt) / 1000);
    var minutes = Math.floor(seconds / 60);
    return TEXT.waited + " " + (minutes < 1 ? TEXT.justNow : minutes + " " + TEXT.minutes);
  }

  function entryItem(entry, mine) {
    var item = element("li", "dk-item" + (entry.priority ? " dk-priority" : "") +
      (state.current && state.current.ticket.number === entry.number ? " dk-current" : ""));
    item.setAttribute("data-number", entry.number);
    var top = element("div", "dk-item-top");
    if (entry.priority) { top.appendChild(element("span", "dk-tag dk-urgent", PRIORITY[entry.priority_reason] || PRIORITY.priority_complaint)); }
    top.appendChild(element("span", "dk-topic", entry.topic || TEXT.unknownTopic));
    top.appendChild(element("span", "dk-tag dk-channel", CHANNELS[entry.channel] || TEXT.unknownChannel));
    if (entry.kind === "message") { top.appendChild(element("span", "dk-tag", TEXT.leftMessage)); }
    if (entry.timed_out) { top.appendChild(element("span", "dk-tag dk-warn", TEXT.timedOut)); }
    if (entry.user_resumed) { top.appendChild(element("span", "dk-tag dk-warn", TEXT.resumed)); }
    if (!mine) { top.appendChild(element("span", "dk-wait", waitedText(entry))); }
    item.appendChild(top);
    item.appendChild(element("div", "dk-order", entry.order_id ? TEXT.order + " " + entry.order_id : TEXT.noOrder));
    item.appendChild(element("pre", "dk-summary", entry.summary));
    var actions = element("div", "dk-item-actions");
    actions.appendChild(element("span", "dk-number", TEXT.ticket + " " + entry.number));
    if (mine && state.unread && state.unread[entry.number]) { actions.appendChild(element("span", "dk-unread", TEXT.unread)); }
    var button = element("button", mine ? "dk-open" : "dk-claim", mine ? TEXT.open : TEXT.claim);
    button.type = "button";
    button.addEventListener("click", function () { mine ? openConversation(entry.number) : claim(entry.number); });
    actions.appendChild(button);
    item.appendChild(actions);
    return item;
  }

  function renderLists() {
    ui.queue.textContent = "";
    state.queue.forEach(function (entry) { ui.queue.appendChild(entryItem(entry, false)); });
    ui.queueEmpty.hidden = state.queue.length > 0;
    ui.queueCount.textContent = state.queue.length;
    ui.mine.textContent = "";
    state.mine.forEach(function (entry) { ui.mine.appendChild(entryItem(entry, true)); });
    ui.mineEmpty.hidden = state.mine.length > 0;
    ui.mineCount.textContent = state.mine.length;
  }

  function takeQueue(data) {
    state.queue = data.queue || [];
    state.mine = data.mine || [];
    state.receivedAt = Date.now();
    renderLists();
    if (state.current && !state.current.ended && state.current.holder === state.me.id &&
        !holds(state.current.ticket.number)) {
      endCurrent(TEXT.ended);
    }
  }

  function holds(number) {
    return state.mine.some(function (entry) { return entry.number === number; });
  }

  // --- one conversation ----------------------------------------------------------

  function messageNode(item) {
    var who = item.from === "agent" ? TEXT.agent + " " + agentName(item.agent) : (item.from === "bot" ? TEXT.bot : TEXT.user);
    var node = element("div", "dk-msg dk-" + item.from);
    var label = node.appendChild(element("div", "dk-who", who));
    if (item.at) { label.title = item.at; }
    node.appendChild(element("div", "dk-text", item.text));
    if (item.buttons && item.buttons.length) {
      var chips = element("div", "dk-chips");
      item.buttons.forEach(function (title) { chips.appendChild(element("span", "dk-chip", title)); });
      node.appendChild(chips);
    }
    if (item.id) { node.setAttribute("data-id", item.id); }
    return node;
  }

  function addMessage(item) {
    if (item.id) {
      if (state.seen[item.id]) { return; }
      state.seen[item.id] = true;
      state.lastId = Math.max(state.lastId, item.id);
      if (item.from === "agent" && item.agent === state.me.id) {
        var pending = ui.transcript.querySelector(".dk-pending");
        if (pending) { pending.remove(); }
      }
    }
    ui.transcript.appendChild(messageNode(item));
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
  }

  function showConversation(data) {
    state.current = data;
    if (state.unread) { delete state.unread[data.ticket.number]; }
    ui.placeholder.hidden = true;
    ui.conversation.hidden = false;
    var ticket = data.ticket;
    ui.title.textContent = (ticket.topic || TEXT.unknownTopic) + " · " + TEXT.ticket + " " + ticket.number;
    ui.facts.textContent = [
      ticket.order_id ? TEXT.order + " " + ticket.order_id : TEXT.noOrder,
      CHANNELS[data.channel] || TEXT.unknownChannel,
      ticket.priority ? (PRIORITY[ticket.priority_reason] || PRIORITY.priority_complaint) : null
    ].filter(Boolean).join(" · ");
    renderBudget(data.wechat_budget);
    ui.transcript.textContent = "";
    state.seen = {};
    var dividerShown = false;
    data.transcript.forEach(function (item) {
      if (item.id && !dividerShown) { ui.transcript.appendChild(element("div", "dk-divider", TEXT.handoffDivider)); dividerShown = true; }
      addMessage(item);
    });
    var mine = data.holder === state.me.id;
    setComposer(mine);
    showNotice(mine ? "" : TEXT.ended);
    renderLists();
  }

  function renderBudget(budget) {
    if (!budget) { ui.budget.hidden = true; return; }
    ui.budget.hidden = false;
    ui.budget.textContent = budget.left > 0 || budget.used === 0 ? fill(TEXT.budget, { left: budget.left_for_agent, limit: budget.limit }) : TEXT.budgetClosed;
  }

  function setComposer(enabled) {
    ui.input.disabled = !enabled;
    ui.send.disabled = !enabled;
    ui.close.disabled = !enabled;
    ui.transfer.disabled = !enabled;
    ui.transferTo.disabled = !enabled;
  }

  function endCurrent(text) {
    if (state.current) { state.current.ended = true; }
    setComposer(false);
    showNotice(text);
  }

  function openConversation(number) {
    return api("GET", "conversations/" + encodeURIComponent(number)).then(showConversation).catch(showError);
  }

  function claim(number) {
    showNotice("");
    api("POST", "conversations/" + encodeURIComponent(number) + "/claim").then(function (data) {
      state.mine = state.mine.concat([data.ticket]);
      showConversation(data);
      ui.input.focus();
    }).catch(function (error) {
      showError(error);
      refreshQueue();
    });
  }

  function send(text) {
    var number = state.current.ticket.number;
    var pending = messageNode({ from: "agent", agent: state.me.id, text: text });
    pending.classList.add("dk-pending");
    ui.transcript.appendChild(pending);
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
    api("POST", "conversations/" + encodeURIComponent(number) + "/messages", { text: text }).then(function (data) {
      showNotice("");
      renderBudget(data.wechat_budget);
    }).catch(function (error) {
      pending.remove();
      ui.input.value = text;
      if (error.data && error.data.wechat_budget) { renderBudget(error.data.wechat_budget); }
      showError(error);
    });
  }

  function refreshQueue() {
    return api("GET", "queue").then(takeQueue).catch(function () {});
  }

  // --- the live stream ---------------------------------------------------------------

  function follow() {
    var source = new EventSource("/agent/api/events?after=" + state.lastId);
    source.addEventListener("open", function () { ui.status.textContent = TEXT.connected; });
    source.addEventListener("error", function () { ui.status.textContent = TEXT.reconnecting; });
    source.addEventListener("queue", function (event) { takeQueue(JSON.parse(event.data)); });
    source.addEventListener("logout", function () { location.href = "/agent/login"; });
    source.addEventListener("message", function (event) {
      var item = JSON.parse(event.data);
      if (state.current && state.current.ticket.number === item.ticket) {
        addMessage(item);
        if (item.from === "user" && state.current.channel === "wechat") { openConversation(item.ticket); }
      } else if (item.from === "user") {
        state.unread = state.unread || {};
        state.unread[item.ticket] = true;
        renderLists();
      }
    });
  }

  // --- wiring ----------------------------------------------------------------------------

  ui.composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = ui.input.value.trim();
    if (!text || !state.current) { return; }
    ui.input.value = "";
    send(text);
  });
  ui.input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.composer.requestSubmit();
    }
  });
  ui.close.addEventListener("click", function () {
    if (!state.current || !window.confirm(TEXT.confirmClose)) { return; }
    var number = state.current.ticket.number;
    api("POST", "conversations/" + encodeURIComponent(number) + "/close").then(function () {
      endCurrent(TEXT.closed);
      refreshQueue();
    }).catch(showError);
  });
  ui.transfer.addEventListener("click", function () {
    var target = ui.transferTo.value;
    if (!state.current || !target) { showError(new Error("unknown_agent")); return; }
    var number = state.current.ticket.number;
    api("POST", "conversations/" + encodeURIComponent(number) + "/transfer", { agent: target }).then(function () {
      endCurrent(TEXT.transferred + " " + agentName(target));
      refreshQueue();
    }).catch(showError);
  });
  ui.logout.addEventListener("click", function () {
    fetch("/agent/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": CSRF } })
      .catch(function () {}).then(function () { location.href = "/agent/login"; });
  });
  setInterval(renderLists, 30000);  // waiting times

  api("GET", "me").then(function (me) {
    state.me = me;
    ui.me.textContent = me.name;
    ui.transferTo.textContent = "";
    ui.transferTo.appendChild(element("option", null, TEXT.transferTo)).value = "";
    me.agents.forEach(function (agent) {
      state.agents[agent.id] = agent;
      if (agent.id !== me.id) { ui.transferTo.appendChild(element("option", null, agent.name)).value = agent.id; }
    });
    return refreshQueue();
  }).then(follow);
})();
