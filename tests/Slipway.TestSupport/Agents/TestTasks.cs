using System.Text;
using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.TestSupport.Agents;

/// <summary>Creates and enqueues tasks the way a user would, and waits for them to end.</summary>
public static class TestTasks
{
    public static async Task<string> CreateAsync(SlipwayClient client, string name, JsonObject script, string? queue = null)
    {
        var data = await client.CallAsync("tasks.create", new JsonObject { ["name"] = name, ["type"] = "training", ["script"] = script });
        var id = data["id"]!.GetValue<string>();
        if (queue is not null)
            await client.Tasks.EnqueueAsync(id, queue);
        return id;
    }

    /// <summary>A literal shell script (the diff holds the script, no repository).</summary>
    public static JsonObject Shell(string script) => new() { ["binary"] = "bash", ["entry_point"] = "task.sh", ["diff"] = script };

    public static async Task<TaskInfo> WaitFinishedAsync(SlipwayClient client, string taskId, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        return await client.Tasks.WaitAsync(taskId, TimeSpan.FromMilliseconds(100), cts.Token);
    }

    /// <summary>Waits until a condition on the task holds (polling the server, with a deadline).</summary>
    public static async Task<TaskInfo> WaitUntilAsync(SlipwayClient client, string taskId, Func<TaskInfo, bool> condition, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var task = await client.Tasks.GetAsync(taskId, cts.Token);
            if (condition(task))
                return task;
            await Task.Delay(100, cts.Token);
        }
    }

    public static async Task<string> ConsoleAsync(SlipwayClient client, string taskId)
    {
        var text = new StringBuilder();
        await foreach (var entry in client.Tasks.GetConsoleAsync(taskId))
            text.Append(entry.Message);
        return text.ToString();
    }

    public static async Task WaitForFileAsync(string path, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        while (!File.Exists(path) || new FileInfo(path).Length == 0)
            await Task.Delay(50, cts.Token);
    }

    public static bool ProcessAlive(int pid) => Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    /// <summary>Reads something until it satisfies the condition (with a deadline) and returns it.</summary>
    public static async Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> condition, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var value = await read();
            if (condition(value))
                return value;
            await Task.Delay(100, cts.Token);
        }
    }
}
