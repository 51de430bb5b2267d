from .cli_base import main

main()
