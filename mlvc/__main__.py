from mlvc.cli.main import main

main()
