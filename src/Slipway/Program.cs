using Slipway.Commands;

return await Cli.RunAsync(args, CliConsole.ForProcess(), handleTermination: true);
