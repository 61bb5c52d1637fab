from distillrl.cli.main import main

raise SystemExit(main())
