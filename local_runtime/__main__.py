from local_runtime.cli import main

main()
