from scalekit_gen.cli import main

main()
