"""Service-insight report: does the bot keep the article's "smart service
resolves about 70%" promise, and where does it hand over to people?

``make report`` (``python -m bot.report``) reads the tracker store and the
ticket store and writes ``reports/triage-report.html`` (one self-contained
page, charts embedded as PNG) and the same figures as CSV files in
``reports/triage-report-data/`` (one file per figure, UTF-8 with a BOM so Excel
shows the Chinese labels).

Modules: ``sources`` (where the stores are), ``reading`` (stores -> plain
records, in pages, with a progress bar), ``conversations`` (events ->
conversations), ``figures`` (records -> figures, pure), ``charts``
(matplotlib, CJK font), ``html`` (the page), ``csv_files``, ``labels``
(Chinese names of intents, reasons, ticket kinds).

Definitions (also the page's footnotes):

- Conversation: one sender's session (the events between two
  ``session_started`` events) with at least one user message. It starts at
  its first user message and belongs to the Shanghai day of that moment.
- Message: a user message (``user`` event). Intent figures (NLU fallback rate,
  top intents) leave out messages sent while the conversation was handed to a
  person (slot ``handoff_ticket`` set): those go to the agent, not to the NLU's
  answer.
- Escalation: one of these events in a conversation:
  ``utter_escalate`` (the user asked for a human), ``utter_default`` after
  ``action_ask_which_topic`` (not understood twice, or the user chose 都不是:
  counted apart), ``action_default_fallback`` (low policy confidence), or a
  priority complaint ticket created during the conversation. Each is "off
  hours" when it happened outside the service hours of facts.yml (Shanghai).
- Contained: a conversation with no escalation and no ticket created during
  it (from its session start to the next session start of that sender) that
  is still open or in progress. Containment rate = contained / conversations;
  per topic, where the topic is the first intent of the conversation that
  names a subject (not greet, goodbye, thank, affirm, deny, bot_challenge,
  inform, nlu_fallback), else its first intent.
- NLU fallback rate: messages classified ``nlu_fallback`` / messages (both
  outside handoffs).
- Time before escalation: from a conversation's first user message to its
  first escalation; the median over escalated conversations.
- Frustrated conversation: one with a user message (relayed ones too) the
  NLU tagged with a ``frustration`` entity (value: the cue, e.g. insult,
  threat, impatience). Turns to a person: the user messages from the first
  frustrated one up to and including the last one before the first
  escalation (as above, any reason) after it; 1 = escalated at once, 0 = the
  message already went to an agent. Without such an escalation it did not
  reach a person. Figures: count and share of conversations, reached / not
  reached, median and max turns; per conversation in ``conversations.csv``.
- Fraud checks: ``action_fraud_check`` runs, by the risk level its answer
  names (labels from cases.yml fraud.level_labels).
- Ratings and tickets: rows of the ticket store created in the period;
  ticket states are as of the report's run.

Period: ``--from``/``--to`` are Shanghai dates, inclusive. Conversation
figures count conversations that start in the period; message, fraud-check,
ticket and rating figures count what happened in the period.
"""
