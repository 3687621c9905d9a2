from archtrain.cli import main

main()
