using System.CommandLine;
using Slipway.Commands;

var root = new RootCommand("Slipway: experiment tracking, datasets, queues and agents, speaking the ClearML API.");
root.Subcommands.Add(ServerCommand.Create());
root.Subcommands.Add(UserCommand.Create());
root.Subcommands.Add(GcCommand.Create());
return await root.Parse(args).InvokeAsync();
