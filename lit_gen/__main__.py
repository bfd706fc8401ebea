"""``python -m lit_gen`` runs the ``lit-gen`` command."""

from lit_gen.cli import main

if __name__ == "__main__":
    main()
