from stalkview.cli import main

raise SystemExit(main())
