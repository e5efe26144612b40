from fibervlm.cli import main

raise SystemExit(main())
