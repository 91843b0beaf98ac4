from kcli.entry import main

main()
