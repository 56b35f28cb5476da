import SupervisorCLI
SupervisorCommand.runMain()
