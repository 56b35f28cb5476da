import SupervisorCLI
SupervisorCommand.main()
