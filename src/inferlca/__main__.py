from inferlca.cli import main

main()
