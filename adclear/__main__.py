from adclear.cli import main

main()
