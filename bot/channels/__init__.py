"""The push channels (Telegram, Zalo OA): one adapter module per platform, the shared intake worker,
and `push`, which wires them into the gateway (`push.router`, `push.run_channels`, `push.reply_hook`).

Importing a module of this package loads only that module: the wiring lives in `bot.channels.push`,
so the retention job or a test can use `bot.channels.message_refs` without starting the channel stack.
"""
