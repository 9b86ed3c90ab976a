from qualibench.cli import main

main()
