from bot.launcher.cli import main

raise SystemExit(main())
