"""The agent desk: where the shop's agents take over handed-off conversations, live (http://localhost:8080/agent/).

``accounts`` (agents from configuration, scrypt password hashes, a CLI),
``rasa_api`` (the conversation through Rasa's HTTP API: read the tracker,
add the agent's messages so Rasa sends them through the user's channel),
``app`` (the aiohttp pages and JSON API the web server mounts at /agent/,
the live event stream and the queue timeout). The rules (queue order, who
holds what, WeChat's budget, what is said) are in bot.services.desk.
"""
