from ldn_inbox.cli import main

main()
