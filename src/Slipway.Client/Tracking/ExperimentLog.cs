using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Client.Tracking;

/// <summary>
/// Reports what a run measures: scalars, single values, text, Plotly figures, tables and debug images. Every
/// call returns at once; the events go to the server in the background (see <see cref="Experiment.FlushAsync"/>).
/// Thread-safe.
/// </summary>
public sealed class ExperimentLog
{
    private readonly Experiment _experiment;
    private readonly EventBatcher _batcher;

    internal ExperimentLog(Experiment experiment, EventBatcher batcher)
    {
        _experiment = experiment;
        _batcher = batcher;
    }

    /// <summary>Reports one point of a scalar series: <paramref name="title"/> is the chart, <paramref name="series"/> the line in it.</summary>
    public void Scalar(string title, string series, double value, long iteration) => _batcher.Scalar(title, series, value, iteration);

    /// <summary>Reports a single summary value (e.g. final accuracy), shown in the experiment's summary table.</summary>
    public void SingleValue(string name, double value) => _batcher.Scalar("Summary", name, value, int.MinValue);

    /// <summary>Writes text to the task's console (without printing it locally).</summary>
    public void Text(string text, string level = "info") => Event(w =>
    {
        w.WriteString("type", "log");
        w.WriteString("level", level);
        w.WriteString("worker", Environment.MachineName);
        w.WriteString("msg", text);
    });

    /// <summary>Reports a Plotly figure (its JSON: <c>{"data": [...], "layout": {...}}</c>).</summary>
    public void Plot(string title, string series, JsonObject figure, long iteration = 0) => Plot(title, series, figure.ToJsonString(), iteration);

    /// <summary>Reports a Plotly figure given as JSON text.</summary>
    public void Plot(string title, string series, string plotlyJson, long iteration = 0) => Event(w =>
    {
        w.WriteString("type", "plot");
        w.WriteNumber("iter", iteration);
        w.WriteString("metric", title);
        w.WriteString("variant", series);
        w.WriteString("plot_str", plotlyJson);
    });

    /// <summary>Reports a table (shown as a Plotly table).</summary>
    public void Table(string title, string series, IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<object?>> rows, long iteration = 0)
    {
        var rowList = rows.ToList();
        var cells = new JsonArray();
        for (var c = 0; c < columns.Count; c++)
            cells.Add(new JsonArray(rowList.Select(r => (JsonNode?)JsonValue.Create(Convert.ToString(c < r.Count ? r[c] : null, CultureInfo.InvariantCulture))).ToArray()));
        var figure = new JsonObject
        {
            ["data"] = new JsonArray(new JsonObject
            {
                ["type"] = "table",
                ["header"] = new JsonObject { ["values"] = columns.ToJsonArray() },
                ["cells"] = new JsonObject { ["values"] = cells },
            }),
            ["layout"] = new JsonObject { ["title"] = title },
        };
        Plot(title, series, figure, iteration);
    }

    /// <summary>Reports a scatter or line plot of (x, y) points.</summary>
    public void Scatter(string title, string series, IEnumerable<(double X, double Y)> points, long iteration = 0, string mode = "lines+markers")
    {
        var list = points.ToList();
        var figure = new JsonObject
        {
            ["data"] = new JsonArray(new JsonObject
            {
                ["type"] = "scatter",
                ["mode"] = mode,
                ["name"] = series,
                ["x"] = new JsonArray(list.Select(p => (JsonNode?)JsonValue.Create(p.X)).ToArray()),
                ["y"] = new JsonArray(list.Select(p => (JsonNode?)JsonValue.Create(p.Y)).ToArray()),
            }),
            ["layout"] = new JsonObject { ["title"] = title },
        };
        Plot(title, series, figure, iteration);
    }

    /// <summary>
    /// Uploads a debug image (PNG, JPEG, ...) and reports it at an iteration; the returned task completes when the
    /// image is uploaded (it need not be awaited; <see cref="Experiment.FlushAsync"/> waits for it).
    /// </summary>
    public Task ImageAsync(string title, string series, ReadOnlyMemory<byte> image, long iteration, string extension = "png") =>
        _experiment.Track(UploadImageAsync(title, series, image, iteration, extension));

    private async Task UploadImageAsync(string title, string series, ReadOnlyMemory<byte> image, long iteration, string extension)
    {
        var key = $"{_experiment.StorageFolder}/metrics/{Safe(title)}/{Safe(series)}/{Safe(title)}_{Safe(series)}_{iteration:D8}.{extension.TrimStart('.')}";
        using var stream = new MemoryStream(image.ToArray(), writable: false);
        var url = await _experiment.Client.Files.UploadAsync(stream, key, _experiment.OutputUri).ConfigureAwait(false);
        Event(w =>
        {
            w.WriteString("type", "training_debug_image");
            w.WriteNumber("iter", iteration);
            w.WriteString("metric", title);
            w.WriteString("variant", series);
            w.WriteString("key", key);
            w.WriteString("url", url.ToString());
        });
    }

    internal static string Safe(string part) => string.Concat(part.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));

    private void Event(Action<Utf8JsonWriter> fields)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            fields(w);
            w.WriteNumber("timestamp", _batcher.NowMs());
            w.WriteEndObject();
        }
        _batcher.Other(buffer.WrittenSpan);
    }
}
