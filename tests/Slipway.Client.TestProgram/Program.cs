using Slipway.Client.Tracking;

// Usage: <mode> [--name value ...]. The server comes from CLEARML_* variables, as for any tracked program.
var mode = args.Length > 0 ? args[0] : "complete";
await using var run = await Experiment.StartAsync(new ExperimentOptions
{
    Project = Environment.GetEnvironmentVariable("TEST_PROJECT") ?? "child-runs",
    Name = "child-" + mode,
    MonitorInterval = TimeSpan.FromMilliseconds(200),
    AbortPollInterval = TimeSpan.FromMilliseconds(200),
    AbortGracePeriod = TimeSpan.FromSeconds(2),
});
var parameters = await run.ConnectAsync(new Parameters());
Console.WriteLine($"task {run.Id} lr={parameters.LearningRate} epochs={parameters.Epochs} args={string.Join(' ', run.Arguments)}");
for (var epoch = 0; epoch < parameters.Epochs; epoch++)
    run.Log.Scalar("loss", "train", 1.0 / (epoch + 1), epoch);
await Console.Error.WriteLineAsync("a warning on stderr");
await run.FlushAsync();

switch (mode)
{
    case "throw":
        throw new InvalidOperationException("the model diverged");
    case "wait":
        // Waits to be ended from outside: by a signal, or by an abort (the experiment ends the process).
        Console.WriteLine("waiting");
        await Task.Delay(Timeout.Infinite, run.Aborted).ContinueWith(_ => { });
        Console.WriteLine("aborted, cleaning up");
        await Task.Delay(Timeout.Infinite);
        break;
}
// Long enough for the machine monitor (every 200 ms here) to report.
await Task.Delay(600);
Console.WriteLine("done");

internal sealed class Parameters
{
    public double LearningRate { get; set; } = 0.1;
    public int Epochs { get; set; } = 3;
    public string Optimizer { get; set; } = "sgd";
}
