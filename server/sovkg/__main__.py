from sovkg.cli import main

raise SystemExit(main())
