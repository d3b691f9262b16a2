try:
    from inferlca.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command line loads: nothing ran yet
    import sys

    print("interrupted before anything ran", file=sys.stderr)
    sys.exit(130)

main()
