"""``python -m lacale_async``: the ``lacale`` command line."""

from lacale_async._cli import main

if __name__ == "__main__":
    main()
