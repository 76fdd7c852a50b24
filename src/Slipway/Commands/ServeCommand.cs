using System.CommandLine;
using Microsoft.Extensions.Logging;
using Slipway.Serving;

namespace Slipway.Commands;

/// <summary>`slipway serve`: the inference host for the server's endpoints, until Ctrl-C.</summary>
public static class ServeCommand
{
    public static ClientCommand Create(CliConsole console)
    {
        // The defaults are ServingOptions' own, so that they are written once.
        var defaults = new ServingOptions();
        var host = new Option<string>("--host") { Description = "The address to listen on (0.0.0.0 for every interface)", DefaultValueFactory = _ => defaults.Host, HelpName = "address" };
        var port = new Option<int>("--port") { Description = "The inference port (0: any free port)", DefaultValueFactory = _ => defaults.Port, HelpName = "n" };
        var poll = new Option<double>("--poll") { Description = "Seconds between reads of the endpoint configuration", DefaultValueFactory = _ => defaults.PollInterval.TotalSeconds, HelpName = "seconds" };
        var report = new Option<double>("--report") { Description = "Seconds between status and statistics reports to the server", DefaultValueFactory = _ => defaults.ReportInterval.TotalSeconds, HelpName = "seconds" };
        var maxBytes = new Option<long>("--max-request-bytes") { Description = "The largest request body for endpoints that set no limit of their own", DefaultValueFactory = _ => defaults.MaxRequestBytes, HelpName = "bytes" };
        var cache = new Option<string?>("--cache") { Description = "Where model files are downloaded (default ~/.slipway/cache/serving)", HelpName = "dir" };
        var publicUrl = new Option<string?>("--public-url") { Description = "The URL clients reach this host at, as reported to the server", HelpName = "url" };
        var python = new Option<string>("--python")
        {
            Description = "The interpreter for python-engine versions (versions with requirements get a virtual environment built from it)",
            DefaultValueFactory = _ => defaults.Python,
            HelpName = "path",
        };
        var pythonTimeout = new Option<double>("--python-timeout")
        {
            Description = "Seconds a python-engine request may take before its worker is killed and restarted (0: no limit)",
            DefaultValueFactory = _ => defaults.PythonRequestTimeout.TotalSeconds,
            HelpName = "seconds",
        };
        var device = new Option<string>("--device")
        {
            Description = "Where ONNX versions run: auto (GPU 0 when the ONNX Runtime has the CUDA provider, else the CPU), cpu, cuda, cuda:N",
            DefaultValueFactory = _ => defaults.Device.Name,
            HelpName = "device",
        };
        var onnxRuntime = new Option<string?>("--onnxruntime")
        {
            Description = "The ONNX Runtime library to load instead of the bundled CPU build, e.g. the CUDA build's libonnxruntime.so (default $SLIPWAY_ONNXRUNTIME)",
            HelpName = "path",
        };
        var batchThreads = new Option<int>("--batch-threads")
        {
            Description = "ONNX Runtime threads per run of a batching endpoint (one run holds a whole batch; default the core count, at most 8)",
            DefaultValueFactory = _ => defaults.BatchIntraOpThreads,
            HelpName = "n",
        };
        var command = new ClientCommand("serve", "Serve the server's inference endpoints (KServe V2 and /serve) on this machine until Ctrl-C", console)
        {
            host, port, poll, report, maxBytes, cache, publicUrl, python, pythonTimeout, device, onnxRuntime, batchThreads,
        };
        command.SetClientAction(async run =>
        {
            var options = new ServingOptions
            {
                Host = run.Get(host)!,
                Port = run.Get(port),
                PollInterval = TimeSpan.FromSeconds(run.Get(poll)),
                ReportInterval = TimeSpan.FromSeconds(run.Get(report)),
                MaxRequestBytes = run.Get(maxBytes),
                PublicUrl = run.Get(publicUrl),
                Python = run.Get(python)!,
                BatchIntraOpThreads = run.Get(batchThreads),
                PythonRequestTimeout = run.Get(pythonTimeout) is var limit && limit > 0 ? TimeSpan.FromSeconds(limit) : Timeout.InfiniteTimeSpan,
            };
            if (run.Get(cache) is { } folder)
                options.CacheFolder = Path.GetFullPath(folder);
            if (run.Get(onnxRuntime) is { } library)
                options.OnnxRuntimeLibrary = library;
            ServingHost served;
            try
            {
                options.Device = OnnxDevice.Parse(run.Get(device)!);
                served = await ServingHost.StartAsync(options, run.Client.Options, logging => logging.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss ";
                }).SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft", LogLevel.Warning), run.CancellationToken);
            }
            catch (ArgumentException e)
            {
                throw CliException.Usage(e.Message);
            }
            await using (served)
            {
                console.Error.WriteLine($"slipway serve: endpoints of {run.Client.Options.ApiServer} on {served.Url} (Ctrl-C stops)");
                await served.WaitForShutdownAsync(run.CancellationToken);
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
