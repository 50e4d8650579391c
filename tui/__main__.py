from vectorctl.tui.cli import main

main()
